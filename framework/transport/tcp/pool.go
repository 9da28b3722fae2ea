package tcp

import (
	"math/bits"
	"sync"
)

// Buffer size classes: powers of two from minBufShift to maxBufShift.
const (
	minBufShift = 14 // 16 KiB
	maxBufShift = 23 // 8 MiB
)

// bufPool recycles write buffers by power-of-two size class. Each Transport
// owns one, so transports share nothing.
type bufPool struct {
	classes [maxBufShift - minBufShift + 1]sync.Pool
}

// get returns an empty buffer with a capacity of at least n. It does not block.
func (p *bufPool) get(n int) *[]byte {
	c := sizeClass(n)
	if c < len(p.classes) {
		if b, ok := p.classes[c].Get().(*[]byte); ok {
			return b
		}
		b := make([]byte, 0, 1<<(c+minBufShift))
		return &b
	}
	b := make([]byte, 0, n)
	return &b
}

// put recycles b; buffers outside the classes are left to the GC.
func (p *bufPool) put(b *[]byte) {
	cp := cap(*b)
	if cp < 1<<minBufShift || cp > 1<<maxBufShift || cp&(cp-1) != 0 {
		return
	}
	*b = (*b)[:0]
	p.classes[bits.Len(uint(cp))-1-minBufShift].Put(b)
}

// sizeClass is the index of the smallest class holding n bytes.
func sizeClass(n int) int {
	if n <= 1<<minBufShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minBufShift
}
