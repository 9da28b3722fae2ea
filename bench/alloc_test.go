//go:build !race

package bench

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestCallAllocations holds the allocation target: a unary 1 KiB
// call over TCP with the protobuf codec allocates at most 10 times, client
// and server together (testing.AllocsPerRun counts the whole process). The
// memory transport's figure is held too, at today's count, so that a
// regression shows. Allocation counts mean nothing under the race
// detector, so this file is built without it; `make test` runs it in a
// step of its own (`make allocs`).
func TestCallAllocations(t *testing.T) {
	for _, tc := range []struct {
		name  string
		world func(testing.TB) *echoWorld
		max   float64
	}{
		{"tcp", newTCPWorld, 6},
		{"memory", newMemoryWorld, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.world(t)
			ctx := context.Background()
			req, rsp := wrapperspb.Bytes(make([]byte, 1024)), &wrapperspb.BytesValue{}
			for range 500 { // warm the pools, the selector cache and the connection
				require.NoError(t, w.call(ctx, req, rsp))
			}
			// The best of three measures: a stream or buffer comes back to
			// its pool when the other side's goroutine has run, which a busy
			// machine can delay past the next call (the next call then
			// allocates afresh). A real regression adds to every measure.
			var err error
			n := 1e9
			for range 3 {
				n = min(n, testing.AllocsPerRun(2000, func() {
					if e := w.call(ctx, req, rsp); e != nil {
						err = e
					}
				}))
			}
			require.NoError(t, err)
			t.Logf("%s: %.2f allocations per unary call (both sides)", tc.name, n)
			require.LessOrEqual(t, n, tc.max)
		})
	}
}
