package selector_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
)

// tracked registers service "svc" of two nodes on a fake registry and
// returns them, the registry and a selector over it as a Tracker and a
// StatsReporter.
func tracked(t *testing.T) (*fakeRegistry, []*registry.Node, selector.Selector, selector.Tracker, selector.StatsReporter) {
	reg := newFakeRegistry()
	ns := nodes("n", 2)
	register(t, reg, service("svc", "v1", ns...))
	s := newSelector(t, reg)
	return reg, ns, s, s.(selector.Tracker), s.(selector.StatsReporter)
}

func TestTrackerStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, ns, s, tr, sr := tracked(t)
		_, err := s.Select(context.Background(), "svc")
		require.NoError(t, err)

		d1 := tr.Begin("svc", ns[0])
		d2 := tr.Begin("svc", ns[0])
		st := sr.Stats("svc")
		require.Len(t, st, 1)
		assert.Equal(t, selector.NodeStats{ID: "n-0000", Address: "n-0000:1", Requests: 2, InFlight: 2}, st[0])

		time.Sleep(100 * time.Millisecond)
		d1(nil)
		time.Sleep(100 * time.Millisecond)
		d2(errUnavailable)
		d2(nil) // a second done is ignored (while the record is idle)
		st = sr.Stats("svc")
		assert.Equal(t, selector.NodeStats{
			ID: "n-0000", Address: "n-0000:1", Requests: 2, Successes: 1, Failures: 1, NodeFailures: 1,
			Latency: 110 * time.Millisecond, // 100 ms, then a tenth of the way to 200 ms
		}, st[0])

		// Untracked: nil node, unknown service, node not in the service.
		tr.Begin("svc", nil)(nil)
		tr.Begin("other", ns[1])(nil)
		tr.Begin("svc", &registry.Node{ID: "ghost"})(nil)
		assert.Len(t, sr.Stats("svc"), 1)
		assert.Empty(t, sr.Stats("other"))
	})
}

// loadRecorder is a strategy that records the LoadFeedback and Feedback it gets.
type loadRecorder struct {
	selector.Strategy
	mu     sync.Mutex
	events []string
}

func (r *loadRecorder) Begin(service string, n *registry.Node) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "begin "+n.ID)
}

func (r *loadRecorder) End(service string, n *registry.Node, at time.Time, latency time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "end "+n.ID+" "+latency.String())
}

func (r *loadRecorder) Mark(service string, n *registry.Node, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "mark "+n.ID)
}

func TestTrackerForwardsToStrategy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		ns := nodes("n", 1)
		register(t, reg, service("svc", "v1", ns...))
		rec := &loadRecorder{Strategy: selector.RoundRobin()}
		s := newSelector(t, reg, selector.WithStrategy(rec))
		pick(t, s, "svc")
		done := s.(selector.Tracker).Begin("svc", ns[0])
		time.Sleep(time.Second)
		done(nil)
		s.Mark("svc", ns[0], nil)
		assert.Equal(t, []string{"begin n-0000", "end n-0000 1s", "mark n-0000", "mark n-0000"}, rec.events)
	})
}

func TestTrackerDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	reg := newFakeRegistry()
	ns := nodes("n", 10)
	register(t, reg, service("svc", "v1", ns...))
	for name, strategy := range map[string]selector.Strategy{
		"roundrobin": selector.RoundRobin(),
		"p2c":        selector.P2CPeakEWMA(seeded(1, 1), selector.PeakEWMAConfig{}),
	} {
		t.Run(name, func(t *testing.T) {
			s := newSelector(t, reg, selector.WithStrategy(strategy), selector.WithOutlierDetection(selector.OutlierConfig{}))
			tr := s.(selector.Tracker)
			ctx := context.Background()
			pick(t, s, "svc")
			for _, n := range ns { // warm the per-node state
				tr.Begin("svc", n)(nil)
			}
			allocs := testing.AllocsPerRun(1000, func() {
				tr.Begin("svc", ns[3])(nil)
			})
			assert.Zero(t, allocs, "Begin + done")
			allocs = testing.AllocsPerRun(1000, func() {
				p, _ := s.Select(ctx, "svc")
				n, _ := p.Next()
				tr.Begin("svc", n)(nil)
				p.Release()
			})
			assert.Zero(t, allocs, "Select + Next + Begin + done + Release")
		})
	}
}

func TestConcurrentTrackingWithEjectionsAndEvents(t *testing.T) {
	reg := newFakeRegistry()
	ns := nodes("n", 8)
	register(t, reg, service("svc", "v1", ns...))
	s := newSelector(t, reg,
		selector.WithStrategy(selector.P2CPeakEWMA(seeded(1, 1), selector.PeakEWMAConfig{})),
		selector.WithOutlierDetection(selector.OutlierConfig{ConsecutiveFailures: 2, BaseEjectionTime: time.Millisecond}),
	)
	tr := s.(selector.Tracker)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 300 {
				next, err := s.Select(context.Background(), "svc")
				if err != nil {
					continue
				}
				n, err := next.Next()
				if err != nil {
					continue
				}
				done := tr.Begin("svc", n)
				if n.ID == "n-0000" || (g+i)%7 == 0 {
					done(errUnavailable)
				} else {
					done(nil)
				}
			}
		})
		wg.Go(func() {
			for i := range 50 {
				n := ns[(g*50+i)%len(ns)]
				_ = reg.Deregister(context.Background(), service("svc", "v1", n))
				_ = reg.Register(context.Background(), service("svc", "v1", n))
			}
		})
		wg.Go(func() {
			for range 50 {
				_ = s.(selector.StatsReporter).Stats("svc")
			}
		})
	}
	wg.Wait()
	for _, st := range s.(selector.StatsReporter).Stats("svc") {
		assert.Zero(t, st.InFlight, st.ID)
	}
}

// TestTrackerStatsAcrossEntries: a node's state is the same whichever
// value of the node an attempt names (the selector's own, one of an
// entry an event replaced, the caller's), and a node that left the
// service has none, whichever value names it.
func TestTrackerStatsAcrossEntries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, ns, s, tr, sr := tracked(t)
		picked := func() map[string]*registry.Node {
			p, err := s.Select(context.Background(), "svc")
			require.NoError(t, err)
			defer p.Release()
			out := map[string]*registry.Node{}
			for {
				n, err := p.Next()
				if err != nil {
					return out
				}
				out[n.ID] = n
			}
		}
		requests := func(id string) uint64 {
			for _, st := range sr.Stats("svc") {
				if st.ID == id {
					return st.Requests
				}
			}
			return 0
		}
		first := picked()
		require.Len(t, first, 2)
		tr.Begin("svc", first["n-0000"])(nil)
		tr.Begin("svc", first["n-0000"])(nil)
		tr.Begin("svc", ns[0])(nil)

		// An update of n-0000 replaces the entry and its node values.
		moved := &registry.Node{ID: "n-0000", Address: "n-0000:2"}
		register(t, reg, service("svc", "v1", moved))
		synctest.Wait()
		second := picked()
		require.NotSame(t, first["n-0000"], second["n-0000"], "the entry holds new node values")
		tr.Begin("svc", second["n-0000"])(nil)
		tr.Begin("svc", first["n-0000"])(nil)
		assert.Equal(t, uint64(5), requests("n-0000"), "one state for every value of the node")

		// n-0000 leaves: no value of it is tracked any more.
		require.NoError(t, reg.Deregister(context.Background(), service("svc", "v1", moved)))
		synctest.Wait()
		for _, n := range []*registry.Node{first["n-0000"], second["n-0000"], ns[0]} {
			tr.Begin("svc", n)(nil)
		}
		assert.Zero(t, requests("n-0000"), "a node that left has no state")
		tr.Begin("svc", first["n-0001"])(nil)
		assert.Equal(t, uint64(1), requests("n-0001"))

		// n-0000 comes back: a new state, which every value of it names.
		register(t, reg, service("svc", "v1", moved))
		synctest.Wait()
		picked()
		tr.Begin("svc", first["n-0000"])(nil)
		assert.Equal(t, uint64(1), requests("n-0000"), "the state of the node back, not the one it left with")
	})
}
