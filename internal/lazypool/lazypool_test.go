package lazypool

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEmptyUntilPut: a new pool is not asked; a Put makes it worth asking;
// a Get that found nothing makes it not worth asking again until the next
// Put. (Under the race detector a sync.Pool drops values at random, so
// the test takes values until a Get finds nothing rather than counting
// them.)
func TestEmptyUntilPut(t *testing.T) {
	var p Pool
	require.False(t, p.given.Load(), "a new pool")
	require.Nil(t, p.Get())
	for range 3 {
		p.Put(new(int))
		p.Put(new(int))
		require.True(t, p.given.Load(), "after a Put")
		for p.Get() != nil {
			require.True(t, p.given.Load(), "after a Get that found something")
		}
		require.False(t, p.given.Load(), "after a Get that found nothing")
		require.Nil(t, p.Get())
	}
}
