package selector

import (
	"slices"
	"strings"
	"time"
)

// NodeStats are the counters the default Selector keeps for one node of a
// service, from Tracker.Begin/done (or Mark).
type NodeStats struct {
	ID      string
	Address string
	// Requests counts attempts begun (Tracker.Begin) or, for a client that
	// only marks, attempts marked.
	Requests uint64
	// Successes and Failures count ended attempts by outcome; Failures
	// counts every error.
	Successes uint64
	Failures  uint64
	// NodeFailures counts the failures that count against the node (see
	// OutlierConfig.IsFailure; IsNodeFailure without outlier detection).
	NodeFailures uint64
	// InFlight is the number of attempts begun and not yet done.
	InFlight int64
	// Latency is a moving average of the attempts' latency (each ended
	// attempt moves it a tenth of the way); zero until a tracked attempt
	// ends (Mark carries no latency).
	Latency time.Duration
	// Ejections counts the node's ejections by outlier detection, a failed
	// probe included; Ejected is true while the node is ejected or its
	// probe is pending.
	Ejections uint64
	Ejected   bool
}

// StatsReporter is implemented by selectors that count outcomes per node;
// the default Selector does:
//
//	if sr, ok := sel.(selector.StatsReporter); ok { stats := sr.Stats("greeter") }
type StatsReporter interface {
	// Stats returns the counters of every node of service that has had an
	// attempt and is still cached, sorted by node ID. It does not block.
	Stats(service string) []NodeStats
}

// Stats implements StatsReporter. A node's counters are dropped when the
// node leaves the cache (a Delete event, or a refetch without it), and a
// service's when it does (not found, or evicted by WithMaxServices).
func (s *defaultSelector) Stats(service string) []NodeStats {
	s.mu.RLock()
	e := s.cache[service]
	s.mu.RUnlock()
	if e == nil {
		return []NodeStats{}
	}
	h := e.health
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]NodeStats, 0, len(h.nodes))
	for _, ns := range h.nodes {
		st := NodeStats{
			ID:           ns.id,
			Address:      ns.address,
			Requests:     ns.requests.Load(),
			Successes:    ns.successes.Load(),
			Failures:     ns.failures.Load(),
			NodeFailures: ns.nodeFailures.Load(),
			InFlight:     ns.inflight.Load(),
			Ejections:    ns.ejections,
			Ejected:      ns.state.Load() != stateHealthy,
		}
		ns.mu.Lock()
		st.Latency = time.Duration(ns.latency)
		ns.mu.Unlock()
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b NodeStats) int { return strings.Compare(a.ID, b.ID) })
	return out
}
