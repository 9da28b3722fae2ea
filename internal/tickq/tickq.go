// Package tickq is a queue of values by instant, for schedules in which
// many values share an instant, such as the heartbeats of the servers of
// a world that all started at once. It keeps a min-heap of the distinct
// instants and, for each, the values due then in the order of their
// sequence numbers. Taking the first value, and queueing one for an
// instant already queued, are O(1) (a binary search to keep the order if
// the value's sequence number is not the highest of its instant); a heap
// of the values costs O(log n) compares for each, each between values
// apart in memory.
//
// A Queue is not safe for concurrent use. Its zero value is an empty
// queue. Once it has run a while it allocates nothing: the lists of
// instants that were emptied are reused.
package tickq

import (
	"slices"

	"github.com/microsim/microsim/internal/minheap"
)

// Queue holds values by instant (an int64 of the caller's scale) and,
// within an instant, by sequence number.
type Queue[V any] struct {
	instants []instant[V]       // min-heap of the instants that hold values
	slots    map[int64]*slot[V] // the values of each instant in instants
	spare    []*slot[V]         // emptied slots, for reuse
	n        int                // values queued
}

// instant is an instant of the heap and its values.
type instant[V any] struct {
	at int64
	s  *slot[V]
}

func lessInstant[V any](a, b *instant[V]) bool { return a.at < b.at }

// slot is the values of one instant: items[head:], by sequence number.
type slot[V any] struct {
	items []Item[V]
	head  int
}

// Item is a queued value with its instant and sequence number.
type Item[V any] struct {
	At  int64
	Seq uint64
	V   V
}

// Len is the number of values queued.
func (q *Queue[V]) Len() int { return q.n }

// Push queues v at instant at with sequence number seq. Values of one
// instant come out by sequence number, the lowest first (values of equal
// numbers in the order they were pushed).
func (q *Queue[V]) Push(at int64, seq uint64, v V) {
	s := q.slots[at]
	if s == nil {
		if q.slots == nil {
			q.slots = make(map[int64]*slot[V])
		}
		if n := len(q.spare); n > 0 {
			s = q.spare[n-1]
			q.spare[n-1] = nil
			q.spare = q.spare[:n-1]
		} else {
			s = &slot[V]{}
		}
		q.slots[at] = s
		q.instants = minheap.Push(q.instants, instant[V]{at: at, s: s}, lessInstant[V])
	}
	x := Item[V]{At: at, Seq: seq, V: v}
	if last := len(s.items) - 1; last < s.head || s.items[last].Seq <= seq {
		s.items = append(s.items, x)
	} else {
		i, _ := slices.BinarySearchFunc(s.items[s.head:], seq, func(it Item[V], seq uint64) int {
			if it.Seq <= seq {
				return -1
			}
			return 1
		})
		s.items = slices.Insert(s.items, s.head+i, x)
	}
	q.n++
}

// First returns the first value: of the earliest instant, the one of the
// lowest sequence number. ok is false when the queue is empty.
func (q *Queue[V]) First() (x Item[V], ok bool) {
	if q.n == 0 {
		return x, false
	}
	s := q.instants[0].s
	return s.items[s.head], true
}

// Pop removes the first value, if any.
func (q *Queue[V]) Pop() {
	if q.n == 0 {
		return
	}
	s := q.instants[0].s
	var zero Item[V]
	s.items[s.head] = zero // the queue keeps no pointer of it
	s.head++
	q.n--
	if s.head < len(s.items) {
		return
	}
	delete(q.slots, q.instants[0].at)
	q.instants, _ = minheap.Pop(q.instants, lessInstant[V])
	s.items, s.head = s.items[:0], 0
	q.spare = append(q.spare, s)
}

// Clear removes every value.
func (q *Queue[V]) Clear() {
	for _, in := range q.instants {
		s := in.s
		clear(s.items)
		s.items, s.head = s.items[:0], 0
		q.spare = append(q.spare, s)
	}
	clear(q.slots)
	clear(q.instants)
	q.instants = q.instants[:0]
	q.n = 0
}
