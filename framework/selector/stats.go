package selector

import (
	"slices"
	"strings"

	"github.com/microsim/microsim/framework/registry"
)

// NodeStats are the outcomes Mark recorded for one node.
type NodeStats struct {
	ID        string
	Address   string
	Successes uint64
	Failures  uint64
}

// StatsReporter is implemented by selectors that count outcomes per node;
// the default Selector does:
//
//	if sr, ok := sel.(selector.StatsReporter); ok { stats := sr.Stats("greeter") }
type StatsReporter interface {
	// Stats returns the counters of every node of service that was marked
	// and is still known, sorted by node ID. It does not block.
	Stats(service string) []NodeStats
}

// nodeCounters is the mutable record behind a NodeStats, guarded by
// defaultSelector.mu.
type nodeCounters struct {
	address   string
	successes uint64
	failures  uint64
}

// Stats implements StatsReporter. A node's counters are dropped when the
// node leaves the cache (a Delete event, or a refetch without it).
func (s *defaultSelector) Stats(service string) []NodeStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.stats[service]
	out := make([]NodeStats, 0, len(m))
	for id, c := range m {
		out = append(out, NodeStats{ID: id, Address: c.address, Successes: c.successes, Failures: c.failures})
	}
	slices.SortFunc(out, func(a, b NodeStats) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (s *defaultSelector) countLocked(service string, node *registry.Node, err error) {
	m := s.stats[service]
	if m == nil {
		m = make(map[string]*nodeCounters)
		s.stats[service] = m
	}
	c := m[node.ID]
	if c == nil {
		c = &nodeCounters{}
		m[node.ID] = c
	}
	c.address = node.Address
	if err == nil {
		c.successes++
	} else {
		c.failures++
	}
}

// pruneStatsLocked drops the counters of the nodes of service that are not
// in e (all of them if e is nil).
func (s *defaultSelector) pruneStatsLocked(service string, e *entry) {
	m := s.stats[service]
	if m == nil {
		return
	}
	for id := range m {
		if e == nil || !e.has(id) {
			delete(m, id)
		}
	}
	if len(m) == 0 {
		delete(s.stats, service)
	}
}

// has reports whether e has a node with the given ID.
func (e *entry) has(id string) bool {
	_, ok := slices.BinarySearchFunc(e.nodes, id, func(n *registry.Node, id string) int {
		return strings.Compare(n.ID, id)
	})
	return ok
}
