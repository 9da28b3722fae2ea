package client_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/selector"
)

// stallRun is the outcome of 3,000 sequential calls to 3 instances whose
// handler takes 10 ms, instance 0 stalling 500 ms on every 10th of its calls.
type stallRun struct {
	latencies []time.Duration
	elapsed   time.Duration
	stats     client.Stats
	track     trackCounts
	stalls    int64 // stalls that began on instance 0
	cancelled int64 // stalled handlers that saw their ctx end
}

func runStalls(t *testing.T, clientOpts []client.Option, callOpts ...client.CallOption) stallRun {
	var run stallRun
	synctest.Test(t, func(t *testing.T) {
		var stalls, cancelled atomic.Int64
		var track *trackingSelector
		probe := &attemptProbe{}
		start := time.Now()
		c := newCluster(t, clusterConfig{
			instances: 3,
			delay:     10 * time.Millisecond,
			hook: func(i int) func(context.Context, int) error {
				if i != 0 {
					return nil
				}
				return stallEvery(10, 500*time.Millisecond, &stalls, &cancelled)
			},
			wrapSel: func(s selector.Selector) selector.Selector {
				track = newTrackingSelector(s)
				return track
			},
			clientOpts: append([]client.Option{client.WithAttemptWrapper(probe.wrapper)}, clientOpts...),
		})
		ctx := context.Background()
		for i := range 3000 {
			t0 := time.Now()
			var rsp EchoReply
			require.NoError(t, c.client.Call(ctx, "echo", "Echo.Say", &EchoRequest{Text: "x"}, &rsp, callOpts...), "call %d", i)
			run.latencies = append(run.latencies, time.Since(t0))
			require.Equal(t, "x", rsp.Text)
			// Every attempt of the call, the cancelled loser included, has
			// ended by the time Call returns.
			require.Zero(t, probe.running.Load(), "call %d: attempts still running after Call returned", i)
		}
		run.elapsed = time.Since(start)
		run.stats = c.stats()
		run.track = track.counts()
		for _, a := range probe.reset() {
			if a.cause == client.ErrHedgeLost {
				assert.Equal(t, errors.Canceled, errors.CodeOf(a.err), "a lost attempt ends with Canceled")
			}
		}
		// Let the stalled handlers that nobody waits for any more finish,
		// so that the counts below are final.
		time.Sleep(time.Second)
		run.stalls, run.cancelled = stalls.Load(), cancelled.Load()
	})
	return run
}

// TestHedgingCutsP99 is the proof for hedging: one node of three
// stalls 500 ms on 10% of its calls. Without hedging p99 is over 500 ms;
// with a hedge after 50 ms it is 60 ms, every hedge is within the retry
// budget, every loser is cancelled and reported as Canceled, not as a
// failure of its node.
func TestHedgingCutsP99(t *testing.T) {
	budget := client.DefaultRetryBudget()
	plain := runStalls(t, nil, client.WithIdempotent())
	hedged := runStalls(t, []client.Option{
		client.WithHedging(client.HedgePolicy{Delay: 50 * time.Millisecond, MaxHedges: 1}),
		client.WithRetryBudget(budget),
	}, client.WithIdempotent())

	p99Plain, p99Hedged := percentile(plain.latencies, 0.99), percentile(hedged.latencies, 0.99)
	t.Logf("without hedging: p50 %v p99 %v max %v; %d stalls", percentile(plain.latencies, 0.5), p99Plain, percentile(plain.latencies, 1), plain.stalls)
	t.Logf("with hedging:    p50 %v p99 %v max %v; %d stalls, %d hedges sent, %d won, %d denied; %v virtual",
		percentile(hedged.latencies, 0.5), p99Hedged, percentile(hedged.latencies, 1), hedged.stalls,
		hedged.stats.Hedges, hedged.stats.HedgesWon, hedged.stats.HedgesDenied, hedged.elapsed)
	t.Logf("tracker with hedging: %+v; stalled handlers that saw their ctx end: %d of %d", hedged.track, hedged.cancelled, hedged.stalls)

	assert.GreaterOrEqual(t, p99Plain, 500*time.Millisecond)
	assert.Equal(t, int64(100), plain.stalls, "instance 0 served 1,000 calls, every 10th stalled")
	assert.Zero(t, plain.stats.Hedges)

	assert.Less(t, p99Hedged, 100*time.Millisecond)
	assert.Equal(t, 60*time.Millisecond, p99Hedged, "a stalled call is answered by its hedge: 50 ms delay + 10 ms")
	assert.Equal(t, 10*time.Millisecond, percentile(hedged.latencies, 0.5))
	assert.Positive(t, hedged.stats.Hedges)
	assert.Equal(t, uint64(hedged.stalls), hedged.stats.Hedges, "exactly the stalled calls were hedged")
	assert.Equal(t, hedged.stats.Hedges, hedged.stats.HedgesWon, "every hedge beat its stalled first attempt")
	assert.Zero(t, hedged.stats.HedgesDenied)
	limit := budget.Ratio*float64(hedged.stats.Calls) + budget.MinPerSecond*hedged.elapsed.Seconds()
	assert.LessOrEqual(t, float64(hedged.stats.Hedges+hedged.stats.Retries), limit, "hedges stay within the budget")
	assert.Equal(t, uint64(3000), hedged.stats.Successes)

	// The Tracker saw every attempt begin and end exactly once; each lost
	// attempt ended as Canceled and none as a failure.
	tr := hedged.track
	assert.Equal(t, tr.begun, tr.ended)
	assert.Zero(t, tr.twice)
	assert.Equal(t, int(hedged.stats.Attempts), tr.begun)
	assert.Equal(t, 3000+int(hedged.stats.Hedges), tr.begun)
	assert.Equal(t, map[errors.Code]int{errors.Canceled: int(hedged.stats.HedgesWon)}, tr.codes)
	assert.Equal(t, 3000, tr.successes)
}

// TestNonIdempotentNeverHedged: the same stalls, hedging configured, but
// calls not marked idempotent: no hedge is ever sent.
func TestNonIdempotentNeverHedged(t *testing.T) {
	run := runStalls(t, []client.Option{
		client.WithHedging(client.HedgePolicy{Delay: 50 * time.Millisecond, MaxHedges: 1}),
	})
	assert.Zero(t, run.stats.Hedges)
	assert.Zero(t, run.stats.HedgesDenied)
	assert.Equal(t, uint64(3000), run.stats.Attempts)
	assert.GreaterOrEqual(t, percentile(run.latencies, 0.99), 500*time.Millisecond)
	assert.Empty(t, run.track.codes, "no attempt was cancelled or failed")
}

// TestHedgeDeniedByBudget: a budget that grants nothing: hedges are not
// sent (and counted as denied), the stalled calls wait.
func TestHedgeDeniedByBudget(t *testing.T) {
	run := runStalls(t, []client.Option{
		client.WithHedging(client.HedgePolicy{Delay: 50 * time.Millisecond, MaxHedges: 1}),
		client.WithRetryBudget(client.RetryBudget{Ratio: 0, MinPerSecond: 0}),
	}, client.WithIdempotent())
	assert.Zero(t, run.stats.Hedges)
	assert.Equal(t, uint64(run.stalls), run.stats.HedgesDenied)
	assert.Equal(t, uint64(3000), run.stats.Attempts)
	assert.GreaterOrEqual(t, percentile(run.latencies, 0.99), 500*time.Millisecond)
}

// TestHedgeDelayFollowsPercentile: with Percentile 0.95 there is no hedge
// before 100 samples; after, the hedge leaves exactly at the recorded p95's
// bucket (log-linear, 1/16 of a power of two wide); when latencies change
// the delay follows within 2,048 calls.
func TestHedgeDelayFollowsPercentile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		probe := &attemptProbe{}
		c := newCluster(t, clusterConfig{instances: 3, clientOpts: []client.Option{
			client.WithHedging(client.HedgePolicy{Percentile: 0.95, MaxHedges: 1}),
			client.WithAttemptWrapper(probe.wrapper),
		}})
		ctx := context.Background()
		call := func(sleep time.Duration) {
			t.Helper()
			require.NoError(t, c.client.Call(ctx, "echo", "Echo.Say", &EchoRequest{Sleep: sleep}, &EchoReply{}, client.WithIdempotent()))
		}
		// hedgeDelay sends a call that takes 1 s everywhere and returns
		// when its hedge left, after its first attempt.
		hedgeDelay := func() time.Duration {
			t.Helper()
			probe.reset()
			call(time.Second)
			as := probe.reset()
			require.Len(t, as, 2, "the slow call was hedged once")
			return as[1].start.Sub(as[0].start)
		}

		// Warm-up: 99 calls of 5, 10, ..., 100 ms: no hedge without a
		// Delay until 100 samples.
		for i := range 99 {
			call(time.Duration(i%20+1) * 5 * time.Millisecond)
		}
		assert.Zero(t, c.stats().Hedges, "no hedge before MinSamples")
		for i := 99; i < 200; i++ {
			call(time.Duration(i%20+1) * 5 * time.Millisecond)
		}
		// 200 samples, 10 of each of 5..100 ms: the p95 is 95 ms, in the
		// bucket [92.27 ms, 96.47 ms).
		d := hedgeDelay()
		t.Logf("p95 of 5..100 ms: hedge after %v", d)
		assert.GreaterOrEqual(t, d, 95*time.Millisecond)
		assert.Less(t, d, 95*time.Millisecond*17/16, "within one bucket of the p95")
		assert.Equal(t, 96468991*time.Nanosecond, d, "the highest latency of p95's bucket: (23<<22)-1 ns")

		// The 100 ms calls (5%) after warm-up were hedged at ~96 ms; the
		// first attempt always won.
		st := c.stats()
		assert.Positive(t, st.Hedges)
		assert.Zero(t, st.HedgesWon)

		// Latencies drop to 20 ms: after two windows of samples the delay
		// is 20 ms's bucket.
		for range 2100 {
			call(20 * time.Millisecond)
		}
		d = hedgeDelay()
		t.Logf("after 2,100 calls of 20 ms: hedge after %v", d)
		assert.GreaterOrEqual(t, d, 20*time.Millisecond)
		assert.Less(t, d, 20*time.Millisecond*17/16)
	})
}

// TestHedgeFailFastRetries: a first attempt that fails before the hedge
// delay with a retryable error takes the retry path (no hedge).
func TestHedgeFailFastRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, clusterConfig{instances: 3, delay: 10 * time.Millisecond,
			hook: func(i int) func(context.Context, int) error {
				if i != 0 {
					return nil
				}
				return func(context.Context, int) error { return errors.NewUnavailable("echo-0", "refusing") }
			},
			clientOpts: []client.Option{client.WithHedging(client.HedgePolicy{Delay: 50 * time.Millisecond, MaxHedges: 1})},
		})
		var rsp EchoReply
		require.NoError(t, c.client.Call(context.Background(), "echo", "Echo.Say", &EchoRequest{Text: "a"}, &rsp, client.WithIdempotent()))
		assert.Equal(t, "echo-1", rsp.Instance)
		st := c.stats()
		assert.Equal(t, uint64(1), st.Retries)
		assert.Zero(t, st.Hedges)
		assert.Equal(t, uint64(2), st.Attempts)
	})
}

// TestHedgeTwice: two of three nodes stall; MaxHedges 2 sends a hedge to
// each other node in turn; the third node's answer wins and is the one the
// caller gets, both losers are cancelled and reported as Canceled.
func TestHedgeTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var stalls, cancelled atomic.Int64
		var track *trackingSelector
		c := newCluster(t, clusterConfig{instances: 3, delay: 10 * time.Millisecond,
			hook: func(i int) func(context.Context, int) error {
				if i == 2 {
					return nil
				}
				return stallEvery(1, time.Second, &stalls, &cancelled)
			},
			wrapSel: func(s selector.Selector) selector.Selector {
				track = newTrackingSelector(s)
				return track
			},
			clientOpts: []client.Option{client.WithHedging(client.HedgePolicy{Delay: 50 * time.Millisecond, MaxHedges: 2})},
		})
		start := time.Now()
		rsp := EchoReply{Text: "stale", Instance: "stale"}
		require.NoError(t, c.client.Call(context.Background(), "echo", "Echo.Say", &EchoRequest{Text: "b"}, &rsp, client.WithIdempotent()))
		assert.Equal(t, EchoReply{Text: "b", Instance: "echo-2"}, rsp, "the winning hedge's reply is copied into rsp")
		assert.Equal(t, 110*time.Millisecond, time.Since(start), "second hedge at 100 ms, answered 10 ms later")
		st := c.stats()
		assert.Equal(t, uint64(2), st.Hedges)
		assert.Equal(t, uint64(1), st.HedgesWon)
		assert.Equal(t, uint64(3), st.Attempts)
		tr := track.counts()
		assert.Equal(t, trackCounts{begun: 3, ended: 3, successes: 1, codes: map[errors.Code]int{errors.Canceled: 2}}, tr)
	})
}

// TestPerCallHedging: WithCallHedging turns hedging on for one call of a
// client that has none, and HedgePolicy{} turns it off for one call of a
// client that hedges.
func TestPerCallHedging(t *testing.T) {
	for _, tc := range []struct {
		name       string
		clientOpts []client.Option
		callOpt    client.CallOption
		wantMax    time.Duration
		hedged     bool
	}{
		{"on per call", nil, client.WithCallHedging(client.HedgePolicy{Delay: 50 * time.Millisecond, MaxHedges: 1}), 60 * time.Millisecond, true},
		{"off per call", []client.Option{client.WithHedging(client.HedgePolicy{Delay: 50 * time.Millisecond, MaxHedges: 1})},
			client.WithCallHedging(client.HedgePolicy{}), time.Second + 10*time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var stalls, cancelled atomic.Int64
				c := newCluster(t, clusterConfig{instances: 2, delay: 10 * time.Millisecond,
					hook: func(i int) func(context.Context, int) error {
						if i != 0 {
							return nil
						}
						return stallEvery(1, time.Second, &stalls, &cancelled)
					},
					clientOpts: tc.clientOpts,
				})
				var longest time.Duration
				for range 4 {
					t0 := time.Now()
					require.NoError(t, c.client.Call(context.Background(), "echo", "Echo.Say", &EchoRequest{}, &EchoReply{}, client.WithIdempotent(), tc.callOpt))
					longest = max(longest, time.Since(t0))
				}
				assert.Equal(t, tc.wantMax, longest)
				assert.Equal(t, tc.hedged, c.stats().Hedges > 0)
			})
		})
	}
}
