package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/microsim/microsim/web"
)

func (a *app) webCmd() *cobra.Command {
	var addr, title string
	var refresh, grace time.Duration
	cmd := &cobra.Command{
		Use:   "web",
		Short: "Serve the web dashboard: services, nodes and their health, endpoints, a form to call them",
		Long: "Serve the web dashboard until interrupted: one self-contained page that lists the services, their\n" +
			"versions and nodes (address, zone, metadata, health), the endpoints with their request shapes, and a\n" +
			"form that calls an endpoint and shows the reply and its latency. It follows the registry live.",
		Example: "  microsim web --http 127.0.0.1:8082",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := a.connect(cmd.Context(), &a.flags)
			if err != nil {
				return err
			}
			defer e.Close()
			cli, sel, err := e.clientSelector(nil, true)
			if err != nil {
				return err
			}
			d, err := web.New(e.reg, cli, web.WithSelector(sel), web.WithRefresh(refresh), web.WithTitle(title))
			if err != nil {
				return usageError("%v", err)
			}
			return a.serveHTTP(cmd, "web", addr, d, d.Close, grace)
		},
	}
	f := cmd.Flags()
	serveFlags(f, &addr, &grace, "127.0.0.1:8082")
	f.StringVar(&title, "title", "microsim", "the page's title")
	f.DurationVar(&refresh, "refresh", 2*time.Second, "how often the nodes' call statistics are read again")
	return cmd
}
