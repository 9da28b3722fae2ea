package tcp

import (
	"math/bits"
	"sync"
	"unsafe"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/internal/poison"
)

// A received message and the memory behind it: the Message, its header
// map, and the payload buffer that its Body aliases. A stream holds its
// first one inline (a unary call receives exactly one message per side, so
// receiving costs no Message allocation); later ones come from the
// transport's msgPools. When the message's lease ends (the stream's next
// Recv, or its Close) the map, the buffer and a pooled rmsg go back for
// later messages (stream.reclaimLocked).
type rmsg struct {
	m   transport.Message
	buf []byte // the payload buffer m aliases, when it may be pooled
}

// Payload buffer classes: powers of two from 64 B to 64 KiB (the read
// buffer's size: a larger frame's payload is read into an allocation of
// its own, which is not pooled).
const (
	minPayloadShift = 6
	maxPayloadShift = 16

	// maxPooledHeaders bounds the header maps kept for reuse.
	maxPooledHeaders = 16
)

// msgPools recycles the memory of received messages whose lease ended.
// Each Transport owns one, so transports share nothing. Everything in it
// is cleared or unused when put back. A payload buffer of class c has a
// capacity of exactly 1<<(c+minPayloadShift) and is pooled as the pointer
// to its first byte, which is all sync.Pool can hold without allocating.
type msgPools struct {
	rmsgs   sync.Pool // *rmsg, cleared
	headers sync.Pool // map[string]string, empty
	bufs    [maxPayloadShift - minPayloadShift + 1]sync.Pool
}

// getBuf returns a buffer of length n whose capacity is a class's, from
// the pool or new; ok is false when n is above the classes or p is nil.
// It does not block.
func (p *msgPools) getBuf(n int) (b []byte, ok bool) {
	if p == nil || n > 1<<maxPayloadShift {
		return nil, false
	}
	c := 0
	if n > 1<<minPayloadShift {
		c = bits.Len(uint(n-1)) - minPayloadShift
	}
	size := 1 << (c + minPayloadShift)
	if ptr, ok := p.bufs[c].Get().(unsafe.Pointer); ok {
		return unsafe.Slice((*byte)(ptr), size)[:n], true
	}
	return make([]byte, n, size), true
}

// getHeader returns an empty map for n headers.
func (p *msgPools) getHeader(n int) map[string]string {
	if p != nil && n <= maxPooledHeaders {
		if h, ok := p.headers.Get().(map[string]string); ok {
			return h
		}
	}
	return make(map[string]string, n)
}

// getRmsg returns a cleared rmsg.
func (p *msgPools) getRmsg() *rmsg {
	if r, ok := p.rmsgs.Get().(*rmsg); ok {
		return r
	}
	return &rmsg{}
}

// recycle takes back the map and buffer of r, and r itself unless it is
// held inline by a stream. The caller has made r unreachable to anyone
// else who could recycle it. It does not block.
func (p *msgPools) recycle(r *rmsg, inline bool) {
	if poison.On {
		// Overwritten, and left to the GC: a reader whose lease ended
		// sees garbage, and nothing reuses the memory to hide it.
		poison.Bytes(r.buf)
		poison.Bytes(r.m.Body)
		poison.Header(r.m.Header)
		return
	}
	if h := r.m.Header; h != nil && len(h) <= maxPooledHeaders {
		clear(h)
		p.headers.Put(h)
	}
	p.putBuf(r.buf)
	*r = rmsg{}
	if !inline {
		p.rmsgs.Put(r)
	}
}

// putBuf takes back a payload buffer from getBuf (nil, or a capacity that
// is not a class's, is ignored). It does not block.
func (p *msgPools) putBuf(b []byte) {
	if b == nil {
		return
	}
	cp := cap(b)
	if c := bits.Len(uint(cp)) - 1 - minPayloadShift; cp&(cp-1) == 0 && c >= 0 && c < len(p.bufs) {
		p.bufs[c].Put(unsafe.Pointer(unsafe.SliceData(b)))
	}
}
