package selector

import (
	"slices"
	"strings"
	"time"

	"github.com/microsim/microsim/framework/registry"
)

// view is what Select chooses from for an entry: its services after the
// selector's filters (and, for the healthy view, without the excluded
// nodes), and their nodes flattened and sorted by ID. Views are built once
// per entry (per excluded-set generation for the healthy one) and never
// modified, so a Select without per-call filters allocates nothing here and
// strategies see the same slice call after call.
type view struct {
	gen      uint64 // the svcHealth generation a healthy view was built for
	services []*registry.Service
	nodes    []*registry.Node
}

// allView returns e's view with every node.
func (s *defaultSelector) allView(e *entry) *view {
	if v := e.all.Load(); v != nil {
		return v
	}
	v := &view{services: e.services, nodes: e.nodes}
	if len(s.cfg.filters) > 0 {
		v.services = applyFilters(e.services, s.cfg.filters)
		v.nodes = flatten(v.services)
	}
	e.all.Store(v)
	return v
}

// healthyView returns e's view without the nodes h excludes.
func (s *defaultSelector) healthyView(e *entry, h *svcHealth) *view {
	gen := h.gen.Load()
	if v := e.healthy.Load(); v != nil && v.gen == gen {
		return v
	}
	h.mu.RLock()
	gen = h.gen.Load()
	out := make(map[string]bool, len(h.excluded))
	for _, ns := range h.excluded {
		out[ns.id] = true
	}
	h.mu.RUnlock()
	svcs := filterNodes(e.services, func(n *registry.Node) bool { return !out[n.ID] })
	svcs = applyFilters(svcs, s.cfg.filters)
	v := &view{gen: gen, services: svcs, nodes: flatten(svcs)}
	e.healthy.Store(v)
	return v
}

// candidates returns the nodes a call with the per-call filters chooses
// from, and the node, if any, that this call must probe first. It does not
// block.
func (s *defaultSelector) candidates(e *entry, filters []Filter) ([]*registry.Node, *registry.Node) {
	all := s.allView(e)
	h := e.health
	if s.cfg.outlier == nil || h.nExcluded.Load() == 0 {
		return all.narrow(filters), nil
	}
	nodes := s.healthyView(e, h).narrow(filters)
	if len(nodes) == 0 {
		// Panic threshold: no healthy node passes the filters, so use the
		// ejected ones rather than none. No probe: they all take traffic.
		return all.narrow(filters), nil
	}
	at := h.probeAt.Load()
	if at == 0 {
		return nodes, nil
	}
	now := time.Now()
	if now.UnixNano() < at {
		return nodes, nil
	}
	// A probe is due: it must go to a node this call could use.
	pool := all.narrow(filters)
	id := h.claimProbe(s.cfg.outlier, now, func(id string) bool { return findNode(pool, id) != nil })
	if id == "" {
		return nodes, nil
	}
	return nodes, findNode(pool, id)
}

// narrow applies per-call filters to v; without any it returns v.nodes.
func (v *view) narrow(filters []Filter) []*registry.Node {
	if len(filters) == 0 {
		return v.nodes
	}
	return flatten(applyFilters(v.services, filters))
}

func applyFilters(svcs []*registry.Service, filters []Filter) []*registry.Service {
	for _, f := range filters {
		if f != nil {
			svcs = f(svcs)
		}
	}
	return svcs
}

// findNode returns the node with the given ID in nodes, sorted by ID.
func findNode(nodes []*registry.Node, id string) *registry.Node {
	i, ok := slices.BinarySearchFunc(nodes, id, func(n *registry.Node, id string) int {
		return strings.Compare(n.ID, id)
	})
	if !ok {
		return nil
	}
	return nodes[i]
}
