package slab_test

import (
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/internal/slab"
)

// TestNewHandsOutEachValueOnce: concurrent callers get distinct zero
// values, Size per allocation.
func TestNewHandsOutEachValueOnce(t *testing.T) {
	var src slab.Source[[4]int]
	const per, workers = 1000, 8
	got := make([][]*[4]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range per {
				v := src.New()
				v[0] = w + 1 // a value handed out twice would be written twice
				got[w] = append(got[w], v)
			}
		})
	}
	wg.Wait()
	seen := make(map[*[4]int]bool)
	for w, vs := range got {
		for _, v := range vs {
			require.False(t, seen[v], "a value handed out twice")
			seen[v] = true
			require.Equal(t, w+1, v[0])
		}
	}
	require.Len(t, seen, per*workers)
}

func TestNewAllocatesOncePerSize(t *testing.T) {
	var src slab.Source[int]
	src.New() // the first block
	const blocks = 100
	n := testing.AllocsPerRun(10, func() {
		for range slab.Size * blocks {
			src.New()
		}
	})
	require.LessOrEqual(t, n, float64(blocks+1), "allocations for %d values", slab.Size*blocks)
}

// TestValuesStartOnCacheLines: the values of a type whose size is a
// multiple of 64 bytes start on cache lines, so that each spans as few
// lines as it can.
func TestValuesStartOnCacheLines(t *testing.T) {
	var s slab.Source[[256]byte]
	for i := range 3 * slab.Size {
		if p := uintptr(unsafe.Pointer(s.New())); p%64 != 0 {
			t.Fatalf("value %d starts at byte %d of a cache line", i, p%64)
		}
	}
}
