package selector_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
)

func seeded(a, b uint64) *rand.Rand { return rand.New(rand.NewPCG(a, b)) }

func TestP2CLeastLoadedAvoidsBusyNode(t *testing.T) {
	ns := nodes("n", 10)
	s := selector.P2CLeastLoaded(seeded(1, 2))
	lf := s.(selector.LoadFeedback)
	for range 50 {
		lf.Begin("svc", ns[0]) // n-0000 holds 50 requests in flight
	}
	const calls = 100_000
	counts := firstPicks(t, s, ns, calls)
	assert.Zero(t, counts[ns[0].ID], "the busy node loses every comparison")
	for _, n := range ns[1:] {
		assert.InDelta(t, calls/9, counts[n.ID], calls/9*0.05, "node %s", n.ID)
	}
	// Once its requests end it is back in the game.
	for range 50 {
		lf.End("svc", ns[0], time.Now(), time.Millisecond, nil)
	}
	counts = firstPicks(t, s, ns, calls)
	assert.InDelta(t, calls/10, counts[ns[0].ID], calls/10*0.05)
}

func TestP2CLeastLoadedKeepsInFlightEven(t *testing.T) {
	ns := nodes("n", 10)
	s := selector.P2CLeastLoaded(seeded(3, 4))
	lf := s.(selector.LoadFeedback)
	inflight := make(map[string]int)
	for range 1000 { // requests that all stay in flight
		n, err := s.Pick("svc", ns).Next()
		require.NoError(t, err)
		lf.Begin("svc", n)
		inflight[n.ID]++
	}
	lo, hi := 1000, 0
	for _, n := range ns {
		lo, hi = min(lo, inflight[n.ID]), max(hi, inflight[n.ID])
	}
	t.Logf("in flight per node: min %d max %d (random would spread about ±30)", lo, hi)
	assert.LessOrEqual(t, hi-lo, 3)
}

func TestP2CWithoutFeedbackIsUniform(t *testing.T) {
	ns := nodes("n", 10)
	for name, s := range map[string]selector.Strategy{
		"least-loaded": selector.P2CLeastLoaded(seeded(5, 6)),
		"peak-ewma":    selector.P2CPeakEWMA(seeded(5, 6), selector.PeakEWMAConfig{}),
	} {
		t.Run(name, func(t *testing.T) {
			counts := firstPicks(t, s, ns, 100_000)
			for _, n := range ns {
				assert.InDelta(t, 10_000, counts[n.ID], 500, "node %s", n.ID)
			}
		})
	}
}

func TestP2CIsReproducible(t *testing.T) {
	ns := nodes("n", 20)
	for name, mk := range map[string]func() selector.Strategy{
		"least-loaded": func() selector.Strategy { return selector.P2CLeastLoaded(seeded(7, 8)) },
		"peak-ewma":    func() selector.Strategy { return selector.P2CPeakEWMA(seeded(7, 8), selector.PeakEWMAConfig{}) },
	} {
		t.Run(name, func(t *testing.T) {
			seq := func() []string {
				s := mk()
				var out []string
				for range 100 {
					got, _ := drain(s.Pick("svc", ns))
					out = append(out, got...)
				}
				return out
			}
			assert.Equal(t, seq(), seq())
		})
	}
}

func TestPeakEWMAIsPeakSensitiveAndDecays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ns := nodes("n", 2)
		s := selector.P2CPeakEWMA(seeded(1, 1), selector.PeakEWMAConfig{Decay: 10 * time.Second})
		lf := s.(selector.LoadFeedback)
		observe := func(n *registry.Node, d time.Duration) {
			lf.Begin("svc", n)
			lf.End("svc", n, time.Now(), d, nil)
		}
		for range 100 {
			observe(ns[0], 10*time.Millisecond)
			observe(ns[1], 20*time.Millisecond)
		}
		// Two nodes: every pick compares both, so the cheaper one wins.
		winner := func() string { n, _ := s.Pick("svc", ns).Next(); return n.ID }
		assert.Equal(t, "n-0000", winner())
		// One slow answer is enough: the estimate jumps to the peak.
		observe(ns[0], time.Second)
		assert.Equal(t, "n-0001", winner())
		// Fast answers pull it down only gradually: after 5 s it is still
		// about 1 s * e^-0.5 = 0.6 s...
		time.Sleep(5 * time.Second)
		observe(ns[1], 20*time.Millisecond)
		assert.Equal(t, "n-0001", winner())
		// ...and after 60 s it has decayed below the other's 20 ms.
		time.Sleep(55 * time.Second)
		observe(ns[1], 20*time.Millisecond)
		assert.Equal(t, "n-0000", winner())
	})
}

func TestPeakEWMANewNodeStartsAtMedian(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ns := nodes("n", 10)
		s := selector.P2CPeakEWMA(seeded(2, 3), selector.PeakEWMAConfig{})
		lf := s.(selector.LoadFeedback)
		for i, n := range ns[:9] { // 9 known nodes at 10..90 ms
			lf.Begin("svc", n)
			lf.End("svc", n, time.Now(), time.Duration(i+1)*10*time.Millisecond, nil)
		}
		// n-0009 is new: estimated at the median, 50 ms, so it wins
		// against the 4 slower nodes and loses against the 4 faster ones,
		// instead of winning every comparison (as a zero estimate would).
		counts := firstPicks(t, s, ns, 45_000)
		share := float64(counts["n-0009"]) / 45_000
		t.Logf("new node's share: %.3f", share)
		assert.InDelta(t, 0.1, share, 0.02)

		// With a configured default it starts there instead: at 1 s it
		// loses to every known node.
		s = selector.P2CPeakEWMA(seeded(2, 3), selector.PeakEWMAConfig{DefaultLatency: time.Second})
		lf = s.(selector.LoadFeedback)
		for _, n := range ns[:9] {
			lf.Begin("svc", n)
			lf.End("svc", n, time.Now(), 10*time.Millisecond, nil)
		}
		counts = firstPicks(t, s, ns, 10_000)
		assert.Zero(t, counts["n-0009"])
	})
}

// simulation drives calls through a selector's Select and Tracker in
// virtual time: workers call back to back for dur; a call to node id takes
// latency(id). It returns the calls per node and every call's latency.
type simulation struct {
	workers int
	dur     time.Duration
	latency func(id string) time.Duration
}

func (sim simulation) run(t *testing.T, s selector.Selector) (map[string]int, []time.Duration) {
	t.Helper()
	tr := s.(selector.Tracker)
	var mu sync.Mutex
	counts := make(map[string]int)
	var lats []time.Duration
	start := time.Now()
	var wg sync.WaitGroup
	for range sim.workers {
		wg.Go(func() {
			for time.Since(start) < sim.dur {
				next, err := s.Select(context.Background(), "svc")
				if !assert.NoError(t, err) {
					return
				}
				n, err := next.Next()
				if !assert.NoError(t, err) {
					return
				}
				done := tr.Begin("svc", n)
				d := sim.latency(n.ID)
				time.Sleep(d)
				done(nil)
				mu.Lock()
				counts[n.ID]++
				lats = append(lats, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return counts, lats
}

func p99(lats []time.Duration) time.Duration { return quantile(lats, 0.99) }

func sortDurations(d []time.Duration) { slices.Sort(d) }

func TestPeakEWMAAvoidsSlowNode(t *testing.T) {
	sim := simulation{workers: 10, dur: 30 * time.Second, latency: func(id string) time.Duration {
		if id == "n-0003" {
			return time.Second + 5*time.Millisecond
		}
		return 5 * time.Millisecond
	}}
	for name, c := range map[string]struct {
		strategy     selector.Strategy
		maxSlowShare float64
		p99          func(time.Duration) bool
	}{
		"peak-ewma":   {selector.P2CPeakEWMA(seeded(1, 2), selector.PeakEWMAConfig{}), 0.02, func(d time.Duration) bool { return d < 50*time.Millisecond }},
		"round-robin": {selector.RoundRobin(), 1, func(d time.Duration) bool { return d >= time.Second }},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reg := newFakeRegistry()
				register(t, reg, service("svc", "v1", nodes("n", 10)...))
				s := newSelector(t, reg, selector.WithStrategy(c.strategy))
				counts, lats := sim.run(t, s)
				share := float64(counts["n-0003"]) / float64(len(lats))
				t.Logf("%d calls, slow node %d (%.3f%%), p99 %v", len(lats), counts["n-0003"], 100*share, p99(lats))
				assert.Less(t, share, c.maxSlowShare)
				assert.True(t, c.p99(p99(lats)), "p99 %v", p99(lats))
				// The selector saw the same traffic.
				for _, st := range s.(selector.StatsReporter).Stats("svc") {
					assert.Equal(t, uint64(counts[st.ID]), st.Successes, st.ID)
					assert.Zero(t, st.InFlight)
				}
			})
		})
	}
}
