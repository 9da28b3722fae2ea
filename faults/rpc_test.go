package faults_test

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/faults"
	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/metadata"
)

func TestRPCErrorRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		w := newWorld(t, worldConfig{instances: 2})
		f, err := w.inj.Inject(ctx, "errors", faults.RPCFault{Nodes: faults.Service("echo"), Endpoint: "Echo.Say", Error: errors.Internal, Rate: 0.2})
		require.NoError(t, err)
		const n = 5000
		failed := 0
		for range n {
			if _, err := w.call(ctx); err != nil {
				require.Equal(t, errors.Internal, codeOf(err), "%v", err)
				require.ErrorContains(t, err, `fault "errors"`)
				failed++
			}
		}
		calls := w.calls()
		t.Logf("20%% error rate: %d of %d calls failed (%.2f%%); handlers ran %v", failed, n, 100*float64(failed)/n, calls)
		assert.InDelta(t, 0.2, float64(failed)/n, 0.02)
		assert.Equal(t, n-failed, calls[0]+calls[1], "a failed call never ran its handler (Internal is not retried)")
		st := f.Stats()
		assert.Equal(t, uint64(n), st.Matched)
		assert.Equal(t, uint64(failed), st.Counts["error"])
	})
}

func TestRPCFailFirstN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		w := newWorld(t, worldConfig{instances: 1})
		f, err := w.inj.Inject(ctx, "first3", faults.RPCFault{Error: errors.Unavailable, FirstN: 3})
		require.NoError(t, err)
		var codes []errors.Code
		for range 6 {
			_, err := w.call(ctx, client.WithCallRetry(client.NoRetry{}))
			codes = append(codes, codeOf(err))
		}
		u, ok := errors.Unavailable, errors.Unknown
		assert.Equal(t, []errors.Code{u, u, u, ok, ok, ok}, codes, "the first 3 calls fail, then the service recovers")
		assert.Equal(t, []int{3}, w.calls())

		// A restart arms the fault again. The default policy retries
		// Unavailable, up to 3 attempts: all 3 are refused, the next call
		// goes through.
		require.NoError(t, f.Stop(ctx))
		require.NoError(t, f.Start(ctx))
		_, err = w.call(ctx)
		assert.Equal(t, errors.Unavailable, codeOf(err), "3 attempts, 3 injected failures")
		_, err = w.call(ctx)
		assert.NoError(t, err)
		assert.Equal(t, uint64(6), f.Stats().Counts["error"])
	})
}

func TestRPCStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		w := newWorld(t, worldConfig{instances: 1, delay: 100 * time.Millisecond})
		_, err := w.call(ctx)
		require.NoError(t, err)
		_, err = w.inj.Inject(ctx, "stall", faults.RPCFault{Stall: 250 * time.Millisecond})
		require.NoError(t, err)
		start := time.Now()
		_, err = w.call(ctx)
		require.NoError(t, err)
		assert.Equal(t, 350*time.Millisecond, time.Since(start), "stall + handler, exactly")
	})
}

func TestRPCLostReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		w := newWorld(t, worldConfig{instances: 1})
		f, err := w.inj.Inject(ctx, "lost", faults.RPCFault{LostReply: true, FirstN: 2})
		require.NoError(t, err)
		at := client.WithCallAttemptTimeout(200 * time.Millisecond)

		start := time.Now()
		_, err = w.call(ctx, at)
		assert.Equal(t, errors.DeadlineExceeded, codeOf(err), "%v", err)
		assert.Equal(t, 200*time.Millisecond, time.Since(start), "the client waited for its deadline")
		assert.Equal(t, []int{1}, w.calls(), "a call that is not idempotent ran once and was not retried")

		require.NoError(t, f.Stop(ctx))
		require.NoError(t, f.Start(ctx))
		rsp, err := w.call(ctx, at, client.WithIdempotent())
		require.NoError(t, err, "an idempotent call is retried until a reply arrives")
		assert.Equal(t, "hi", rsp.Text)
		assert.Equal(t, []int{4}, w.calls(), "the idempotent call ran 3 times: two replies lost, one delivered")
		assert.Equal(t, uint64(3), f.Stats().Counts["lost_reply"])
	})
}

func TestRPCAbort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		w := newWorld(t, worldConfig{instances: 1})
		f, err := w.inj.Inject(ctx, "abort", faults.RPCFault{Abort: true, FirstN: 1})
		require.NoError(t, err)
		start := time.Now()
		_, err = w.call(ctx)
		assert.Equal(t, errors.Interrupted, codeOf(err), "%v", err)
		assert.ErrorContains(t, err, "awaiting reply", "the stream ended without a reply")
		assert.Zero(t, time.Since(start), "at once")
		assert.Equal(t, []int{0}, w.calls())

		require.NoError(t, f.Stop(ctx))
		require.NoError(t, f.Start(ctx))
		_, err = w.call(ctx, client.WithIdempotent())
		require.NoError(t, err, "an idempotent call is retried")
		assert.Equal(t, []int{1}, w.calls())
		assert.Equal(t, uint64(2), f.Stats().Counts["aborted"])
	})
}

func TestRPCOverload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		w := newWorld(t, worldConfig{instances: 1, delay: 100 * time.Millisecond})
		_, err := w.call(ctx) // dial and cache before the burst
		require.NoError(t, err)
		f, err := w.inj.Inject(ctx, "overload", faults.RPCFault{Overload: &faults.Overload{Concurrency: 2, Queue: 1}})
		require.NoError(t, err)

		type result struct {
			code errors.Code
			took time.Duration
		}
		var mu sync.Mutex
		var results []result
		var wg sync.WaitGroup
		start := time.Now()
		for range 5 {
			wg.Go(func() {
				_, err := w.call(ctx, client.WithCallRetry(client.NoRetry{}))
				mu.Lock()
				results = append(results, result{codeOf(err), time.Since(start)})
				mu.Unlock()
			})
		}
		wg.Wait()
		count := map[result]int{}
		for _, r := range results {
			count[r]++
		}
		t.Logf("5 concurrent calls, concurrency 2, queue 1: %v", count)
		assert.Equal(t, map[result]int{
			{errors.Unknown, 100 * time.Millisecond}: 2,
			{errors.Unknown, 200 * time.Millisecond}: 1,
			{errors.Unavailable, 0}:                  2,
		}, count)
		st := f.Stats()
		assert.Equal(t, uint64(2), st.Counts["overloaded"])
		assert.Equal(t, uint64(1), st.Counts["queued"])
		assert.Equal(t, []int{4}, w.calls(), "refused calls never ran")
	})
}

func TestRPCClientEdgeAndHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		w := newWorld(t, worldConfig{instances: 1})
		f, err := w.inj.Inject(ctx, "client-refused", faults.RPCFault{
			Edge: faults.ClientEdge, Nodes: faults.Node("client"), Error: errors.Unavailable, FirstN: 2,
		})
		require.NoError(t, err)
		_, err = w.call(ctx)
		require.NoError(t, err, "two attempts fail before they are sent, the third goes through")
		assert.Equal(t, []int{1}, w.calls())
		assert.Equal(t, uint64(2), f.Stats().Touched)

		_, err = w.inj.Inject(ctx, "blue-forbidden", faults.RPCFault{Header: map[string]string{"tenant": "blue"}, Error: errors.Forbidden})
		require.NoError(t, err)
		_, err = w.call(metadata.AppendToContext(ctx, "Tenant", "blue"))
		assert.Equal(t, errors.Forbidden, codeOf(err))
		_, err = w.call(metadata.AppendToContext(ctx, "tenant", "green"))
		assert.NoError(t, err)
		_, err = w.call(ctx)
		assert.NoError(t, err)
	})
}

func TestNodeSlowdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		w := newWorld(t, worldConfig{instances: 1, delay: 100 * time.Millisecond})
		f, err := w.inj.Inject(ctx, "slow", faults.NodeFault{Action: faults.NodeSlowdown, Nodes: faults.Node("echo-0"),
			Factor: 3, Add: faults.Constant(50 * time.Millisecond)})
		require.NoError(t, err)
		start := time.Now()
		_, err = w.call(ctx)
		require.NoError(t, err)
		assert.Equal(t, 350*time.Millisecond, time.Since(start), "100ms x 3 + 50ms")

		require.NoError(t, f.Stop(ctx))
		start = time.Now()
		_, err = w.call(ctx)
		require.NoError(t, err)
		assert.Equal(t, 100*time.Millisecond, time.Since(start))
	})
}
