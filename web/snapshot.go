package web

import (
	"context"
	"sort"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/internal/resolve"
)

// Snapshot is what the page shows: every service as the registry and the
// selector see it.
type Snapshot struct {
	Services []*Service `json:"services"`
	// Error says why the registry could not be read, if it could not.
	Error string `json:"error,omitempty"`
}

// Service is one service, all versions together.
type Service struct {
	Name      string               `json:"name"`
	Versions  []string             `json:"versions"`
	Nodes     []*Node              `json:"nodes"`
	Endpoints []*registry.Endpoint `json:"endpoints"`
}

// Node is one registered node with the selector's view of it.
type Node struct {
	ID       string            `json:"id"`
	Version  string            `json:"version"`
	Address  string            `json:"address"`
	Zone     string            `json:"zone,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
	// Health is "up" (registered, no failure seen), "failing" (its last
	// calls failed more often than not) or "ejected" (the selector's
	// outlier detection took it out).
	Health    string  `json:"health"`
	Requests  uint64  `json:"requests"`
	Failures  uint64  `json:"failures"`
	LatencyMS float64 `json:"latency_ms"`
}

// snapshot reads the registry and the selector's statistics.
func snapshot(ctx context.Context, reg registry.Registry, sel selector.Selector) *Snapshot {
	list, err := reg.ListServices(ctx)
	if err != nil {
		return &Snapshot{Services: []*Service{}, Error: err.Error()}
	}
	snap := &Snapshot{Services: []*Service{}}
	stats, _ := sel.(selector.StatsReporter)
	for _, name := range resolve.Names(list) {
		svcs, err := reg.GetService(ctx, name)
		if err != nil {
			continue // gone since the listing
		}
		s := &Service{Name: name, Versions: []string{}, Nodes: []*Node{}, Endpoints: resolve.Endpoints(svcs)}
		byID := map[string]selector.NodeStats{}
		if stats != nil {
			for _, st := range stats.Stats(name) {
				byID[st.ID] = st
			}
		}
		for _, v := range svcs {
			s.Versions = append(s.Versions, v.Version)
			for _, n := range v.Nodes {
				st := byID[n.ID]
				s.Nodes = append(s.Nodes, &Node{ID: n.ID, Version: v.Version, Address: n.Address,
					Zone: n.Metadata[selector.ZoneKey], Metadata: n.Metadata, Health: health(st),
					Requests: st.Requests, Failures: st.Failures, LatencyMS: float64(st.Latency.Microseconds()) / 1000})
			}
		}
		sort.Slice(s.Nodes, func(i, j int) bool { return s.Nodes[i].ID < s.Nodes[j].ID })
		snap.Services = append(snap.Services, s)
	}
	return snap
}

func health(st selector.NodeStats) string {
	switch {
	case st.Ejected:
		return "ejected"
	case st.NodeFailures > 0 && st.NodeFailures*2 > st.Successes+st.NodeFailures:
		return "failing"
	}
	return "up"
}
