package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/codec"
)

func (a *app) publishCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "publish TOPIC [JSON|-]",
		Short:   "Publish a JSON event to a topic (the event from the argument, or stdin when it is - or absent)",
		Example: "  microsim publish orders.created '{\"id\": \"o-1\"}'",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkTopic(args[0]); err != nil {
				return err
			}
			body, err := a.input(args[1:])
			if err != nil {
				return err
			}
			return a.withEnv(cmd, func(ctx context.Context, e *env) error {
				b, err := e.broker(ctx)
				if err != nil {
					return err
				}
				cli, err := e.client(b, false)
				if err != nil {
					return err
				}
				if err := cli.Publish(ctx, args[0], json.RawMessage(body), client.WithPublishContentType(codec.ContentTypeJSON)); err != nil {
					return err
				}
				if a.flags.output == "json" {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"topic": args[0], "published": true})
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "published to %s\n", args[0])
				return err
			})
		},
	}
}

func checkTopic(t string) error {
	if t == "" || strings.ContainsAny(t, " \t\r\n*>") || len(t) > 256 {
		return usageError("topic %q: use letters, digits, '.', '-' and '_', at most 256 bytes", t)
	}
	return nil
}

// event is one line of `subscribe --output json`.
type event struct {
	Topic  string            `json:"topic"`
	Header map[string]string `json:"header,omitempty"`
	Body   json.RawMessage   `json:"body"`
}

func (a *app) subscribeCmd() *cobra.Command {
	var count int
	var queue string
	var forDur time.Duration
	cmd := &cobra.Command{
		Use:   "subscribe TOPIC",
		Short: "Print a topic's events as they arrive, one line each, until interrupted (or --count, --for)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkTopic(args[0]); err != nil {
				return err
			}
			if count < 0 || forDur < 0 {
				return usageError("--count and --for must not be negative")
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			if forDur > 0 {
				var c2 context.CancelFunc
				ctx, c2 = context.WithTimeout(ctx, forDur)
				defer c2()
			}
			connCtx, connCancel := context.WithTimeout(ctx, a.flags.timeout)
			defer connCancel()
			e, err := a.connect(connCtx, &a.flags)
			if err != nil {
				return err
			}
			defer e.Close()
			b, err := e.broker(connCtx)
			if err != nil {
				return err
			}
			var mu sync.Mutex
			seen := 0
			w := cmd.OutOrStdout()
			h := func(_ context.Context, topic string, m *broker.Message) error {
				mu.Lock()
				defer mu.Unlock()
				if count > 0 && seen >= count {
					return nil
				}
				seen++
				if a.flags.output == "json" {
					body := json.RawMessage(m.Body)
					if !json.Valid(body) {
						b, _ := json.Marshal(string(m.Body))
						body = b
					}
					_ = json.NewEncoder(w).Encode(event{Topic: topic, Header: m.Header, Body: body})
				} else {
					fmt.Fprintf(w, "%s\t%s\n", topic, m.Body)
				}
				if count > 0 && seen == count {
					cancel()
				}
				return nil
			}
			var opts []broker.SubscribeOption
			if queue != "" {
				opts = append(opts, broker.Queue(queue))
			}
			sub, err := b.Subscribe(connCtx, args[0], h, opts...)
			if err != nil {
				return err
			}
			if a.ready != nil {
				a.ready(args[0])
			}
			<-ctx.Done()
			return sub.Close()
		},
	}
	cmd.Flags().IntVarP(&count, "count", "n", 0, "exit after this many events (0: no limit)")
	cmd.Flags().DurationVar(&forDur, "for", 0, "exit after this long (0: until interrupted)")
	cmd.Flags().StringVar(&queue, "queue", "", "join this queue group (each event goes to one member)")
	return cmd
}
