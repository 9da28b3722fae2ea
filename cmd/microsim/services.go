package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/internal/resolve"
	"github.com/microsim/microsim/internal/shapetext"
)

// withEnv runs fn with a connected env and a ctx bounded by --timeout.
func (a *app) withEnv(cmd *cobra.Command, fn func(ctx context.Context, e *env) error) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), a.flags.timeout)
	defer cancel()
	e, err := a.connect(ctx, &a.flags)
	if err != nil {
		return err
	}
	defer e.Close()
	return fn(ctx, e)
}

// serviceSummary is one line of `services`.
type serviceSummary struct {
	Name      string   `json:"name"`
	Versions  []string `json:"versions"`
	Nodes     int      `json:"nodes"`
	Endpoints int      `json:"endpoints"`
}

func (a *app) servicesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "services",
		Short: "List the registered services with their versions, nodes and endpoints",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withEnv(cmd, func(ctx context.Context, e *env) error {
				list, err := e.reg.ListServices(ctx)
				if err != nil {
					return err
				}
				sums := []serviceSummary{}
				for _, name := range resolve.Names(list) {
					svcs, err := e.reg.GetService(ctx, name)
					if err != nil {
						continue // gone since the listing
					}
					s := serviceSummary{Name: name, Endpoints: len(resolve.Endpoints(svcs))}
					for _, v := range svcs {
						s.Versions = append(s.Versions, versionName(v.Version))
						s.Nodes += len(v.Nodes)
					}
					sums = append(sums, s)
				}
				if a.flags.output == "json" {
					return writeJSON(cmd.OutOrStdout(), sums)
				}
				rows := make([][]string, len(sums))
				for i, s := range sums {
					rows[i] = []string{s.Name, strings.Join(s.Versions, ","), strconv.Itoa(s.Nodes), strconv.Itoa(s.Endpoints)}
				}
				return table(cmd.OutOrStdout(), []string{"SERVICE", "VERSIONS", "NODES", "ENDPOINTS"}, rows)
			})
		},
	}
}

func versionName(v string) string {
	if v == "" {
		return "-"
	}
	return v
}

func (a *app) describeCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "describe SERVICE",
		Short:             "Show a service's versions, nodes and endpoints with their request and response shapes",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.serviceCompletion,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withEnv(cmd, func(ctx context.Context, e *env) error {
				svcs, err := resolve.Service(ctx, e.reg, args[0])
				if err != nil {
					return err
				}
				if a.flags.output == "json" {
					return writeJSON(cmd.OutOrStdout(), svcs)
				}
				return printService(cmd, args[0], svcs)
			})
		},
	}
}

// printService writes a service for people.
func printService(cmd *cobra.Command, name string, svcs []*registry.Service) error {
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "SERVICE %s\n", name)
	for _, s := range svcs {
		fmt.Fprintf(w, "\nVERSION %s\n", versionName(s.Version))
		rows := make([][]string, 0, len(s.Nodes))
		for _, n := range s.Nodes {
			rows = append(rows, []string{"  " + n.ID, n.Address, formatMeta(n.Metadata)})
		}
		if err := table(w, []string{"  NODE", "ADDRESS", "METADATA"}, rows); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "\nENDPOINTS")
	for _, ep := range resolve.Endpoints(svcs) {
		if ep.Metadata["stream"] == "true" {
			fmt.Fprintf(w, "  %s (stream)\n", ep.Name)
			continue
		}
		fmt.Fprintf(w, "  %s\n", ep.Name)
		fmt.Fprintf(w, "    request   %s %s\n", ep.Request, shapetext.Signature(ep.RequestShape))
		fmt.Fprintf(w, "    response  %s %s\n", ep.Response, shapetext.Signature(ep.ResponseShape))
		fmt.Fprintf(w, "    example   microsim call %s %s '%s'\n", name, ep.Name, shapetext.Template(ep.RequestShape))
	}
	return nil
}

func formatMeta(md map[string]string) string {
	if len(md) == 0 {
		return "-"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(md)) {
		parts = append(parts, k+"="+md[k])
	}
	return strings.Join(parts, " ")
}
