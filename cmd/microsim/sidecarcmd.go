package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/microsim/microsim/sidecar"
)

func (a *app) sidecarCmd() *cobra.Command {
	var addr, listen string
	var queue, attempts int
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "sidecar",
		Short: "Serve the HTTP sidecar: services in other languages register, call, publish and subscribe over HTTP",
		Long: "Serve the HTTP sidecar until interrupted. An app POSTs /register {\"name\", \"url\", \"endpoints\", \"ttl\"}\n" +
			"(again before the TTL, as its heartbeat) and is then called at POST {url}/{Handler.Method}; it calls\n" +
			"services with POST /{service}/{method} or /rpc, publishes with POST /publish {\"topic\", \"message\"},\n" +
			"subscribes with POST /subscribe {\"topic\", \"url\"} (events are POSTed to its url, retried) and reads\n" +
			"GET /health. The app services' servers listen on --listen.",
		Example: "  microsim sidecar --http 127.0.0.1:8081\n" +
			"  curl --json '{\"name\": \"py\", \"url\": \"http://127.0.0.1:9000\", \"endpoints\": [\"Py.Hello\"]}' http://127.0.0.1:8081/register",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := a.connect(cmd.Context(), &a.flags)
			if err != nil {
				return err
			}
			defer e.Close()
			b, err := e.broker(cmd.Context())
			if err != nil {
				return err
			}
			cli, err := e.client(b, true)
			if err != nil {
				return err
			}
			if listen == "" && a.flags.transport == "tcp" {
				listen = "127.0.0.1:0"
			}
			sc, err := sidecar.New(e.tr, e.reg, cli, b, sidecar.WithAddress(listen), sidecar.WithQueueSize(queue),
				sidecar.WithRetry(attempts, 100*time.Millisecond))
			if err != nil {
				return usageError("%v", err)
			}
			return a.serveHTTP(cmd, "sidecar", addr, sc, sc.Close, grace)
		},
	}
	f := cmd.Flags()
	serveFlags(f, &addr, &grace, "127.0.0.1:8081")
	f.StringVar(&listen, "listen", "", "address the registered apps' RPC servers listen on (default 127.0.0.1:0 over TCP)")
	f.IntVar(&queue, "queue", 1024, "events waiting for delivery per subscription, at most")
	f.IntVar(&attempts, "attempts", 5, "delivery attempts per event")
	return cmd
}
