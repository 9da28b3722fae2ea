package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/microsim/microsim/framework/client"
	ferrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/internal/resolve"
)

// healthEndpoint is what health calls on every node. A server that does
// not serve it answers not_found itself, which proves it is up.
const healthEndpoint = "Debug.Health"

// nodeHealth is one node's line of `health`.
type nodeHealth struct {
	Version   string  `json:"version"`
	Node      string  `json:"node"`
	Address   string  `json:"address"`
	Reachable bool    `json:"reachable"`
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
}

var errUnhealthy = errors.New("unhealthy")

func (a *app) healthCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "health SERVICE",
		Short: "Call every node of a service and report whether it answers, and how fast",
		Long: "Call " + healthEndpoint + " on every registered node of SERVICE (each within --timeout). A node that\n" +
			"answers — even with not_found, for a server that does not serve " + healthEndpoint + " — is reachable.\n" +
			"Exits 1 when a node is not.",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.serviceCompletion,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			return a.withEnv(cmd, func(ctx context.Context, e *env) error {
				svcs, err := resolve.Service(ctx, e.reg, name)
				if err != nil {
					return err
				}
				cli, err := e.client(nil, false)
				if err != nil {
					return err
				}
				var out []*nodeHealth
				var wg sync.WaitGroup
				for _, s := range svcs {
					for _, n := range s.Nodes {
						h := &nodeHealth{Version: versionName(s.Version), Node: n.ID, Address: n.Address}
						out = append(out, h)
						wg.Go(func() { probe(ctx, cli, name, h) })
					}
				}
				wg.Wait()
				bad := 0
				for _, h := range out {
					if !h.Reachable {
						bad++
					}
				}
				if err := a.printHealth(cmd, out); err != nil {
					return err
				}
				if bad > 0 {
					return &exitError{code: exitFailed, err: fmt.Errorf("%w: %d of %d nodes of %s do not answer", errUnhealthy, bad, len(out), name)}
				}
				return nil
			})
		},
	}
}

// probe calls the health endpoint on one node.
func probe(ctx context.Context, cli client.Client, service string, h *nodeHealth) {
	only := selector.WithFilter(func(svcs []*registry.Service) []*registry.Service {
		var out []*registry.Service
		for _, s := range svcs {
			for _, n := range s.Nodes {
				if n.ID == h.Node {
					c := s.CopyWithoutNodes()
					c.Nodes = []*registry.Node{n}
					out = append(out, c)
				}
			}
		}
		return out
	})
	var rsp, req struct{}
	start := time.Now()
	err := cli.Call(ctx, service, healthEndpoint, &req, &rsp, client.WithSelectOption(only))
	h.LatencyMS = ms(time.Since(start))
	fe := ferrors.FromError(err)
	if err == nil || fe.ID == service && fe.Code == ferrors.NotFound {
		h.Reachable = true
		return
	}
	h.Error = err.Error()
}

func (a *app) printHealth(cmd *cobra.Command, hs []*nodeHealth) error {
	if a.flags.output == "json" {
		return writeJSON(cmd.OutOrStdout(), hs)
	}
	rows := make([][]string, len(hs))
	for i, h := range hs {
		state := "yes"
		if !h.Reachable {
			state = "NO: " + h.Error
		}
		rows[i] = []string{h.Node, h.Address, h.Version, state, strconv.FormatFloat(h.LatencyMS, 'f', 2, 64) + "ms"}
	}
	return table(cmd.OutOrStdout(), []string{"NODE", "ADDRESS", "VERSION", "REACHABLE", "LATENCY"}, rows)
}
