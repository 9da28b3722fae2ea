// Package slab hands out new values Size at a time: one allocation makes
// Size zero values, which are handed out one after the other and never
// again. A value handed out is the caller's for good — nothing reuses it,
// so a stale pointer to it can never reach another user's value — and the
// GC frees a block once none of its values is referenced. The transports
// and their decorators make the per-stream objects of a call this way, so
// a call costs 1/Size of an allocation for each instead of one.
package slab

import "sync/atomic"

// Size is how many values one allocation makes.
const Size = 16

// block is one allocation's values. items comes first, so that a value
// whose size is a multiple of 64 bytes starts on a cache line (the
// runtime's size classes from 64 bytes on start their objects on one).
type block[T any] struct {
	items [Size]T
	next  atomic.Int32 // the index of the next value to hand out
}

// Source hands out new zero values of T. Its zero value is ready to use;
// it is safe for concurrent use and must not be copied after first use.
type Source[T any] struct {
	cur atomic.Pointer[block[T]]
}

// New returns a pointer to a zero T that nobody else was given. It does
// not block.
func (s *Source[T]) New() *T {
	for {
		b := s.cur.Load()
		if b != nil {
			if i := b.next.Add(1) - 1; i < Size {
				return &b.items[i]
			}
		}
		nb := new(block[T])
		nb.next.Store(1)
		if s.cur.CompareAndSwap(b, nb) {
			return &nb.items[0]
		}
	}
}
