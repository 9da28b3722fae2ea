package client_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/errors"
)

type flakyRun struct {
	stats   client.Stats
	served  int // handler invocations
	elapsed time.Duration
}

// runFlaky makes 10,000 calls (20 workers × 500) to 3 instances that each
// fail half of their calls with Unavailable (a seeded coin per instance)
// and take 10 ms when they succeed; the client retries up to 5 attempts.
func runFlaky(t *testing.T, opts ...client.Option) flakyRun {
	var run flakyRun
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		c := newCluster(t, clusterConfig{
			instances: 3,
			delay:     10 * time.Millisecond,
			hook: func(i int) func(context.Context, int) error {
				var mu sync.Mutex
				coin := newRand(uint64(100 + i))
				return func(context.Context, int) error {
					mu.Lock()
					fail := coin.IntN(2) == 0
					mu.Unlock()
					if fail {
						return errors.NewUnavailable("flaky", "failing half the calls")
					}
					return nil
				}
			},
			clientOpts: append([]client.Option{client.WithRetryPolicy(client.DefaultPolicy{
				MaxAttempts: 5,
				Backoff:     client.ExponentialBackoff(10*time.Millisecond, time.Second, newRand(3)),
			})}, opts...),
		})
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				for range 500 {
					err := c.client.Call(context.Background(), "echo", "Echo.Say", &EchoRequest{Text: "x"}, &EchoReply{})
					if err != nil && errors.CodeOf(err) != errors.Unavailable {
						t.Errorf("unexpected error: %v", err)
					}
				}
			})
		}
		wg.Wait()
		run.elapsed = time.Since(start)
		run.stats = c.stats()
		run.served = sum(c.calls())
	})
	return run
}

// TestRetryBudgetBoundsRetries is the proof for the retry budget: a
// dependency failing 50% of calls, retries enabled (5 attempts), 10,000
// calls. Without a budget the client retries about 0.94 times per call
// (1/2 + 1/4 + 1/8 + 1/16); with the default budget retries stay under
// 20% of calls plus 10 per second.
func TestRetryBudgetBoundsRetries(t *testing.T) {
	rb := client.DefaultRetryBudget()
	free := runFlaky(t)
	bounded := runFlaky(t, client.WithRetryBudget(rb))

	for name, r := range map[string]flakyRun{"no budget": free, "budget": bounded} {
		t.Logf("%-9s: %v virtual; %d calls, %d ok, %d failed; %d attempts, %d retries, %d denied by the budget; %d handler runs",
			name, r.elapsed, r.stats.Calls, r.stats.Successes, r.stats.Failures, r.stats.Attempts, r.stats.Retries, r.stats.RetriesDenied, r.served)
	}
	limit := rb.Ratio*float64(bounded.stats.Calls) + rb.MinPerSecond*bounded.elapsed.Seconds()
	t.Logf("budget: %d retries <= %.0f = 0.2 × %d calls + 10/s × %.2f s", bounded.stats.Retries, limit, bounded.stats.Calls, bounded.elapsed.Seconds())

	for _, r := range []flakyRun{free, bounded} {
		assert.Equal(t, uint64(10000), r.stats.Calls)
		assert.Equal(t, r.stats.Calls, r.stats.Successes+r.stats.Failures)
		assert.Equal(t, r.stats.Calls+r.stats.Retries, r.stats.Attempts, "each call is one attempt plus its retries")
		assert.Equal(t, int(r.stats.Attempts), r.served)
		assert.Equal(t, map[errors.Code]uint64{errors.Unavailable: r.stats.Failures}, r.stats.FailuresByCode)
	}

	// Without a budget: about 9,375 retries; about 1/32 of the calls (312) fail after 5 attempts.
	assert.InDelta(t, 9375, float64(free.stats.Retries), 400)
	assert.Zero(t, free.stats.RetriesDenied)

	// With the budget: within it, and using most of it.
	assert.LessOrEqual(t, float64(bounded.stats.Retries), limit)
	assert.Greater(t, float64(bounded.stats.Retries), 0.9*limit, "the budget is the limit that applied")
	assert.Positive(t, bounded.stats.RetriesDenied)
	assert.Greater(t, free.stats.Retries, 4*bounded.stats.Retries)
}
