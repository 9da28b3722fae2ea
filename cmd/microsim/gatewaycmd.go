package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/microsim/microsim/gateway"
)

func (a *app) gatewayCmd() *cobra.Command {
	var addr string
	var cors []string
	var maxBody int64
	var maxTimeout, grace time.Duration
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Serve the HTTP API gateway: POST /{service}/{method} with a JSON body calls the service",
		Long: "Serve the HTTP API gateway until interrupted. POST /{service}/{method} (or /{service}/{handler}/{method},\n" +
			"or /rpc with {\"service\", \"endpoint\", \"request\"}) calls the service with the JSON body and answers\n" +
			"its JSON response; GET / lists the services and GET /{service} describes one. --timeout is the\n" +
			"default deadline of a call; a request may ask for another with the Micro-Timeout header or the\n" +
			"timeout parameter, up to --max-timeout. On SIGINT or SIGTERM the calls in flight get --grace to finish.",
		Example: "  microsim gateway --http 127.0.0.1:8080\n  curl --json '{\"name\": \"ana\"}' http://127.0.0.1:8080/greeter/hello",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := []gateway.Option{gateway.WithTimeout(a.flags.timeout), gateway.WithMaxBodyBytes(maxBody)}
			if maxTimeout > 0 {
				opts = append(opts, gateway.WithMaxTimeout(maxTimeout))
			}
			if len(cors) > 0 {
				opts = append(opts, gateway.WithCORS(cors...))
			}
			ctx := cmd.Context()
			e, err := a.connect(ctx, &a.flags)
			if err != nil {
				return err
			}
			defer e.Close()
			cli, err := e.client(nil, true)
			if err != nil {
				return err
			}
			gw, err := gateway.New(e.reg, cli, opts...)
			if err != nil {
				return usageError("%v", err)
			}
			return a.serveHTTP(cmd, "gateway", addr, gw, gw.Close, grace)
		},
	}
	f := cmd.Flags()
	serveFlags(f, &addr, &grace, "127.0.0.1:8080")
	f.StringSliceVar(&cors, "cors", nil, "allow these origins (comma-separated, * for any) to call from a browser")
	f.Int64Var(&maxBody, "max-body", gateway.DefaultMaxBodyBytes, "largest request body accepted, in bytes")
	f.DurationVar(&maxTimeout, "max-timeout", gateway.DefaultMaxTimeout, "longest deadline a request may ask for")
	return cmd
}
