package tickq

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/internal/minheap"
)

// Each value taken is the least of those queued, by instant, then
// sequence number, then the order of the pushes, as a scheduler takes
// them: pushes of every instant (earlier and later ones, equal and lower
// sequence numbers) between pops of what is due. A model, a list sorted
// at each pop, says what the least is.
func TestQueueOrder(t *testing.T) {
	type val struct {
		at  int64
		seq uint64
		id  int
	}
	r := rand.New(rand.NewPCG(1, 2))
	var q Queue[int]
	var model []val
	id, pops := 0, 0
	for round := range 300 {
		for range r.IntN(40) {
			v := val{at: int64(round + r.IntN(8)), seq: uint64(r.IntN(30)), id: id}
			q.Push(v.at, v.seq, v.id)
			model = append(model, v)
			id++
		}
		for q.Len() > 0 {
			x, ok := q.First()
			require.True(t, ok)
			if x.At > int64(round) && r.IntN(4) > 0 {
				break // not due yet: most rounds stop here
			}
			slices.SortStableFunc(model, func(a, b val) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq)) })
			require.Equal(t, model[0], val{at: x.At, seq: x.Seq, id: x.V}, "pop %d", pops)
			q.Pop()
			model = model[1:]
			pops++
			assert.Equal(t, len(model), q.Len())
		}
	}
	assert.Greater(t, pops, 4000)
	q.Clear()
	_, ok := q.First()
	assert.False(t, ok)
	assert.Zero(t, q.Len())
	q.Pop() // nothing to pop: no effect
	q.Push(5, 1, 7)
	x, ok := q.First()
	assert.True(t, ok)
	assert.Equal(t, Item[int]{At: 5, Seq: 1, V: 7}, x)
}

// Once every instant's list has been made, queueing and taking values
// allocates nothing: a schedule of 1,000 values due at one instant, each
// queued again one period later, as heartbeats are.
func TestQueueAllocations(t *testing.T) {
	var q Queue[*int]
	vals := make([]int, 1000)
	for i := range vals {
		q.Push(0, uint64(i), &vals[i])
	}
	tick := func(at int64) {
		for {
			x, ok := q.First()
			if !ok || x.At > at {
				return
			}
			q.Pop()
			q.Push(at+1, x.Seq, x.V)
		}
	}
	tick(0)
	tick(1)
	at := int64(2)
	allocs := testing.AllocsPerRun(100, func() { tick(at); at++ })
	assert.Zero(t, allocs)
	assert.Equal(t, 1000, q.Len())
}

// BenchmarkSchedule queues 1,000 values due at one instant again one
// period later, one at a time, as a Heartbeater does with the heartbeats
// of 1,000 servers started at once: in a Queue and, for comparison, in a
// binary heap of the values ordered by instant and sequence number.
func BenchmarkSchedule(b *testing.B) {
	const n = 1000
	b.Run("queue", func(b *testing.B) {
		var q Queue[int]
		for i := range n {
			q.Push(0, uint64(i), i)
		}
		for i := 0; b.Loop(); i++ {
			x, _ := q.First()
			q.Pop()
			q.Push(x.At+1, x.Seq, x.V)
		}
	})
	b.Run("heap", func(b *testing.B) {
		type entry struct {
			at  int64
			seq uint64
			v   int
		}
		less := func(a, b *entry) bool { return a.at < b.at || a.at == b.at && a.seq < b.seq }
		var h []entry
		for i := range n {
			h = minheap.Push(h, entry{seq: uint64(i), v: i}, less)
		}
		for b.Loop() {
			h[0].at++
			minheap.Down(h, 0, less)
		}
	})
}
