//go:build !race

package client_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/internal/poison"
)

// TestCallReuseAllocations: with WithCallReuse a call allocates its
// Request and deadline ctx (a call frame of 384 bytes) no more, only its
// Micro-Timeout value afresh (16 bytes). Counted in bytes, which a
// call's allocation count does not tell apart (one object each way).
// Allocation counts mean nothing under the race detector. Built with
// microsim_poison, nothing is reused.
func TestCallReuseAllocations(t *testing.T) {
	perCall := func(opts ...client.Option) float64 {
		c := newCluster(t, clusterConfig{instances: 1, clientOpts: opts})
		ctx := context.Background()
		req, rsp := &EchoRequest{Text: "x"}, &EchoReply{}
		call := func() { require.NoError(t, c.client.Call(ctx, "echo", "Echo.Say", req, rsp)) }
		for range 500 { // warm the pools, the selector cache and the connection
			call()
		}
		// The best of three measures, as a pool the collector emptied
		// meanwhile costs a few allocations afresh.
		best := 1e9
		for range 3 {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range 2000 {
				call()
			}
			runtime.ReadMemStats(&after)
			best = min(best, float64(after.TotalAlloc-before.TotalAlloc)/2000)
		}
		return best
	}
	plain, reused := perCall(), perCall(client.WithCallReuse())
	t.Logf("bytes allocated per call: %.0f, with WithCallReuse %.0f", plain, reused)
	if poison.On {
		// Built with microsim_poison, a frame is overwritten, not reused.
		require.Less(t, plain-reused, 100.0)
		return
	}
	require.Greater(t, plain-reused, 300.0)
}
