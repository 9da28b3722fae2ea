package minheap_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/internal/minheap"
)

func less(a, b *int) bool { return *a < *b }

// TestHeapOrders: values pushed in random order, some raised in place
// (Down), come out of Pop in ascending order, each once, and a popped
// slot is zeroed.
func TestHeapOrders(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h []int
	var want []int
	for range 500 {
		v := rng.IntN(1000)
		h = minheap.Push(h, v, less)
		want = append(want, v)
	}
	// Raise the least element twice, as a rescheduled timer would.
	for range 2 {
		raised := h[0] + 700
		want[slices.Index(want, h[0])] = raised
		h[0] = raised
		minheap.Down(h, 0, less)
	}
	slices.Sort(want)
	var got []int
	for len(h) > 0 {
		n := len(h)
		var v int
		h, v = minheap.Pop(h, less)
		require.Zero(t, h[:n][n-1], "the vacated slot is zeroed")
		got = append(got, v)
	}
	assert.Equal(t, want, got)
}
