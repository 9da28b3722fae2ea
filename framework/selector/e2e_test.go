package selector_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/memory"
)

// Worker is the handler of the end-to-end tests: each instance takes its
// delay to answer.
type Worker struct {
	name  string
	delay time.Duration
}

type WorkRequest struct{ Key string }

type WorkReply struct{ Instance string }

func (w *Worker) Do(ctx context.Context, req *WorkRequest, rsp *WorkReply) error {
	select {
	case <-time.After(w.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	rsp.Instance = w.name
	return nil
}

// fleet is a memory network with instances of service "work", one host
// each, and a client on its own host whose selector has opts.
type fleet struct {
	net     *memory.Network
	servers []server.Server
	sel     selector.Selector
	client  client.Client
}

func newFleet(t *testing.T, delays []time.Duration, opts ...selector.Option) *fleet {
	t.Helper()
	ctx := context.Background()
	f := &fleet{net: memory.MustNetwork()}
	for i, d := range delays {
		h := f.net.Host(fmt.Sprintf("work-%d", i))
		s, err := server.New("work", h.Transport(), h.Registry(),
			server.WithID(h.Name()), server.WithRegisterTTL(3*time.Second), server.WithRegisterInterval(time.Second))
		require.NoError(t, err)
		require.NoError(t, s.Handle(&Worker{name: h.Name(), delay: d}))
		require.NoError(t, s.Start(ctx))
		f.servers = append(f.servers, s)
	}
	ch := f.net.Host("client")
	var err error
	f.sel, err = selector.New(ch.Registry(), opts...)
	require.NoError(t, err)
	f.client, err = client.New(f.sel, ch.Transport(), client.WithRand(rand.New(rand.NewPCG(1, 2))))
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		f.client.Close()
		f.sel.Close()
		for _, s := range f.servers {
			_ = s.Stop(ctx)
		}
		f.net.Close()
	})
	return f
}

// load runs workers that call back to back for dur and returns the calls
// per instance and every call's latency.
func (f *fleet) load(t *testing.T, workers int, dur time.Duration, opts ...client.CallOption) (map[string]int, []time.Duration) {
	var mu sync.Mutex
	counts := make(map[string]int)
	var lats []time.Duration
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for time.Since(start) < dur {
				began := time.Now()
				var rsp WorkReply
				if !assert.NoError(t, f.client.Call(context.Background(), "work", "Worker.Do", &WorkRequest{}, &rsp, opts...)) {
					return
				}
				mu.Lock()
				counts[rsp.Instance]++
				lats = append(lats, time.Since(began))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return counts, lats
}

// TestSlowInstanceEndToEnd is the example, through the real client
// and server on the memory network, in virtual time: 10 instances answer
// in 10 ms but one takes a second longer. Peak EWMA sends it under 2% of the
// calls and keeps p99 under 50 ms; round robin sends it a tenth and its p99
// is over a second.
func TestSlowInstanceEndToEnd(t *testing.T) {
	delays := make([]time.Duration, 10)
	for i := range delays {
		delays[i] = 10 * time.Millisecond
	}
	const slow = "work-6"
	delays[6] += time.Second

	for _, c := range []struct {
		name     string
		strategy selector.Strategy
		check    func(t *testing.T, share float64, p99 time.Duration)
	}{
		{"peak-ewma", selector.P2CPeakEWMA(seeded(1, 2), selector.PeakEWMAConfig{}), func(t *testing.T, share float64, p99 time.Duration) {
			assert.Less(t, share, 0.02)
			assert.Less(t, p99, 50*time.Millisecond)
		}},
		{"round-robin", selector.RoundRobin(), func(t *testing.T, share float64, p99 time.Duration) {
			assert.InDelta(t, 0.1, share, 0.01)
			assert.GreaterOrEqual(t, p99, time.Second)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFleet(t, delays, selector.WithStrategy(c.strategy))
				counts, lats := f.load(t, 10, 12*time.Second)
				share := float64(counts[slow]) / float64(len(lats))
				t.Logf("%s: %d calls, %d (%.2f%%) to the slow instance, p50 %v p99 %v max %v",
					c.name, len(lats), counts[slow], 100*share, quantile(lats, 0.5), quantile(lats, 0.99), quantile(lats, 1))
				c.check(t, share, quantile(lats, 0.99))

				// The selector's counters tell the same story.
				stats := f.sel.(selector.StatsReporter).Stats("work")
				require.Len(t, stats, 10)
				for _, st := range stats {
					assert.Equal(t, uint64(counts[st.ID]), st.Successes, st.ID)
					assert.Zero(t, st.InFlight, st.ID)
					if st.ID == slow {
						assert.InDelta(t, float64(time.Second+10*time.Millisecond), float64(st.Latency), float64(10*time.Millisecond))
					} else {
						assert.InDelta(t, float64(10*time.Millisecond), float64(st.Latency), float64(time.Millisecond), st.ID)
					}
				}
			})
		})
	}
}

// TestStickyRoutingEndToEnd: a hash key passed through the client keeps a
// user on one instance.
func TestStickyRoutingEndToEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		delays := make([]time.Duration, 5)
		f := newFleet(t, delays, selector.WithStrategy(selector.ConsistentHash(seeded(1, 1), selector.HashConfig{})))
		ctx := context.Background()
		home := make(map[string]string)
		for round := range 20 {
			for u := range 10 {
				key := fmt.Sprintf("user-%d", u)
				var rsp WorkReply
				require.NoError(t, f.client.Call(ctx, "work", "Worker.Do", &WorkRequest{}, &rsp,
					client.WithSelectOption(selector.WithHashKey(key))))
				if round == 0 {
					home[key] = rsp.Instance
				}
				assert.Equal(t, home[key], rsp.Instance, "%s in round %d", key, round)
			}
		}
		instances := make(map[string]bool)
		for _, in := range home {
			instances[in] = true
		}
		assert.Greater(t, len(instances), 2, "users spread over instances")
	})
}

// TestEjectionEndToEnd: an instance that crashes (its address refuses
// connections, its registration lives on until its TTL) is ejected after a
// few calls, although it stays registered.
func TestEjectionEndToEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		delays := make([]time.Duration, 4)
		f := newFleet(t, delays, selector.WithOutlierDetection(selector.OutlierConfig{ConsecutiveFailures: 3}))
		ctx := context.Background()
		for range 40 {
			require.NoError(t, f.client.Call(ctx, "work", "Worker.Do", &WorkRequest{}, &WorkReply{}))
		}
		f.net.Host("work-2").Crash()
		for range 400 {
			var rsp WorkReply
			require.NoError(t, f.client.Call(ctx, "work", "Worker.Do", &WorkRequest{}, &rsp), "retried elsewhere")
			assert.NotEqual(t, "work-2", rsp.Instance)
		}
		var st selector.NodeStats
		for _, s := range f.sel.(selector.StatsReporter).Stats("work") {
			if s.ID == "work-2" {
				st = s
			}
		}
		t.Logf("crashed instance: %+v", st)
		assert.True(t, st.Ejected)
		assert.Equal(t, uint64(3), st.NodeFailures, "three refused attempts, then no more")
	})
}

func quantile(d []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sortDurations(s)
	i := int(q * float64(len(s)))
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}
