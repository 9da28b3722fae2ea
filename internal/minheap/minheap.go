// Package minheap keeps a binary min-heap in a slice of values, ordered
// by a less function on pointers to them. Unlike container/heap it boxes
// nothing (a push allocates only when the slice grows) and its order
// reads only the slice, not what the elements point to.
package minheap

// Push adds x to the heap h and returns the heap.
func Push[T any](h []T, x T, less func(a, b *T) bool) []T {
	h = append(h, x)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !less(&h[i], &h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

// Pop removes the least element of the non-empty heap h and returns the
// heap and that element. The vacated slot is zeroed, so that the slice
// keeps no pointer of it.
func Pop[T any](h []T, less func(a, b *T) bool) ([]T, T) {
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	var zero T
	h[n] = zero
	h = h[:n]
	Down(h, 0, less)
	return h, top
}

// Down moves the element at i, which may have become greater than its
// children, to its place.
func Down[T any](h []T, i int, less func(a, b *T) bool) {
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if r := c + 1; r < len(h) && less(&h[r], &h[c]) {
			c = r
		}
		if !less(&h[c], &h[i]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}
