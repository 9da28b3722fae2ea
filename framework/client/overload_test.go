package client_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/server"
)

// burst sends n concurrent calls at one instant to 3 instances taking
// 100 ms, instance 0 limited to 2 concurrent requests, and returns the
// errors, the per-instance handler runs, the client's stats and the
// virtual time the burst took.
func burst(t *testing.T, n int, opts ...client.Option) (errs []error, served []int, st client.Stats, took time.Duration) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, clusterConfig{
			instances: 3,
			delay:     100 * time.Millisecond,
			instanceOpts: func(i int) []server.Option {
				if i == 0 {
					return []server.Option{server.WithMaxConcurrent(2)}
				}
				return nil
			},
			clientOpts: opts,
		})
		// Warm the selector's cache and the connections, so that the burst
		// starts at one instant.
		for range 3 {
			require.NoError(t, c.client.Call(context.Background(), "echo", "Echo.Say", &EchoRequest{}, &EchoReply{}))
		}
		before := c.calls()
		start := time.Now()
		errs = make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = c.client.Call(context.Background(), "echo", "Echo.Say", &EchoRequest{Text: "burst"}, &EchoReply{})
			})
		}
		wg.Wait()
		took = time.Since(start)
		served = c.calls()
		for i := range served {
			served[i] -= before[i]
		}
		st = c.stats()
	})
	return errs, served, st, took
}

// TestOverloadRetriedElsewhere is the proof for overload: 30
// concurrent calls, round robin sends 10 to the instance that takes 2 at a
// time; it refuses 8 at once with Unavailable and the client retries each
// on another instance: all 30 succeed, 38 attempts, 8 retries. Without
// retries the 8 refused calls fail.
func TestOverloadRetriedElsewhere(t *testing.T) {
	errs, served, st, took := burst(t, 30)
	t.Logf("with retries: served %v, %d attempts, %d retries, in %v", served, st.Attempts-3, st.Retries, took)
	for i, err := range errs {
		assert.NoError(t, err, "call %d", i)
	}
	assert.Equal(t, 2, served[0], "the limited instance ran only 2")
	assert.Equal(t, 28, served[1]+served[2], "the others ran the rest, 8 of them retries")
	assert.Equal(t, uint64(8), st.Retries)
	assert.Equal(t, uint64(3+38), st.Attempts)
	assert.Less(t, took, 111*time.Millisecond, "100 ms handlers plus a backoff of at most 10 ms")

	errs, served, st, _ = burst(t, 30, client.WithRetryPolicy(client.NoRetry{}))
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
			assert.Equal(t, errors.Unavailable, errors.CodeOf(err))
			assert.ErrorContains(t, err, "server overloaded")
		}
	}
	t.Logf("without retries: served %v, %d failed", served, failed)
	assert.Equal(t, 8, failed)
	assert.Equal(t, map[errors.Code]uint64{errors.Unavailable: 8}, st.FailuresByCode)
	assert.Equal(t, []int{2, 10, 10}, served)
}

// TestStats: the counters and the selector's node stats, passed through.
func TestStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, clusterConfig{instances: 2})
		ctx := context.Background()
		for range 3 {
			require.NoError(t, c.client.Call(ctx, "echo", "Echo.Say", &EchoRequest{}, &EchoReply{}))
		}
		_ = c.client.Call(ctx, "echo", "Echo.Say", &EchoRequest{Fail: "internal"}, &EchoReply{})
		_ = c.client.Call(ctx, "echo", "Echo.Say", &EchoRequest{Fail: "unavailable"}, &EchoReply{}) // 3 attempts, 2 nodes: 2 rounds
		_ = c.client.Call(ctx, "nosuch", "X.Y", &EchoRequest{}, &EchoReply{})

		st := c.stats()
		assert.Equal(t, client.Stats{
			Calls: 6, Successes: 3, Failures: 3,
			FailuresByCode: map[errors.Code]uint64{errors.Internal: 1, errors.Unavailable: 1, errors.NotFound: 1},
			Attempts:       3 + 1 + 3,
			Retries:        2,
		}, st)

		sr := c.client.(client.StatsReporter)
		want := c.sel.(selector.StatsReporter).Stats("echo")
		require.Len(t, want, 2)
		assert.Equal(t, want, sr.NodeStats("echo"), "the selector's own counters, passed through")

		// A selector that keeps no stats: nil.
		plain, err := client.New(struct{ selector.Selector }{c.sel}, c.net.Host("client").Transport())
		require.NoError(t, err)
		defer plain.Close()
		assert.Nil(t, plain.(client.StatsReporter).NodeStats("echo"))
	})
}
