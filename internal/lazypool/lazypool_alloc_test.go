//go:build !race

package lazypool_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/internal/lazypool"
)

// TestGetAllocatesNothingUntilGiven: a Get from a pool never given
// anything finds it empty without allocating (a sync.Pool's first Get on
// a processor allocates its per-processor storage), and a pool that was
// given something gives it back. Allocation counts mean nothing under the
// race detector, so this file is built without it (`make allocs`).
func TestGetAllocatesNothingUntilGiven(t *testing.T) {
	pools := make([]lazypool.Pool, 201)
	i := 0
	require.Equal(t, 0.0, testing.AllocsPerRun(200, func() {
		if pools[i].Get() != nil {
			t.Fatal("a pool never given anything gave something")
		}
		i++
	}))
	var p lazypool.Pool
	x := new(int)
	p.Put(x)
	require.Same(t, x, p.Get())
}
