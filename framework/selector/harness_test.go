package selector_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/selector"
)

// harness is a service of n nodes behind a selector with outlier detection,
// and a way to make calls whose outcome depends on the node.
type harness struct {
	t   *testing.T
	s   selector.Selector
	tr  selector.Tracker
	sr  selector.StatsReporter
	mu  sync.Mutex
	err map[string]error // the outcome of an attempt on each node
}

func newHarness(t *testing.T, n int, opts ...selector.Option) *harness {
	reg := newFakeRegistry()
	register(t, reg, service("svc", "v1", nodes("n", n)...))
	s := newSelector(t, reg, opts...)
	return &harness{t: t, s: s, tr: s.(selector.Tracker), sr: s.(selector.StatsReporter), err: make(map[string]error)}
}

func (h *harness) fail(id string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.err[id] = err
}

// call makes one single-attempt call and returns the node it went to.
func (h *harness) call() string {
	h.t.Helper()
	p, err := h.s.Select(context.Background(), "svc")
	require.NoError(h.t, err)
	n, err := p.Next()
	require.NoError(h.t, err)
	p.Release()
	done := h.tr.Begin("svc", n)
	h.mu.Lock()
	e := h.err[n.ID]
	h.mu.Unlock()
	done(e)
	return n.ID
}

// calls makes k calls and counts them per node.
func (h *harness) calls(k int) map[string]int {
	out := make(map[string]int)
	for range k {
		out[h.call()]++
	}
	return out
}

func (h *harness) stats(id string) selector.NodeStats {
	for _, st := range h.sr.Stats("svc") {
		if st.ID == id {
			return st
		}
	}
	return selector.NodeStats{ID: id}
}

func (h *harness) ejected() []string {
	var out []string
	for _, st := range h.sr.Stats("svc") {
		if st.Ejected {
			out = append(out, st.ID)
		}
	}
	return out
}
