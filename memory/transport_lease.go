package memory

import (
	"maps"
	"sync/atomic"
	"unsafe"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/internal/poison"
)

// Lent messages (the package transport's ownership rule). What Recv
// returns is lent until the reader's next Recv or Close: then the pipe
// takes it back (reclaimLocked). A Message the pipe took back keeps its
// header map and body buffer and goes to its connection's spare slot for
// its direction (conn.slots) when that is empty, from which the next copy
// Send makes that way takes all three at once; otherwise (the slot is
// taken, or the message is its pipe's inline first one) the header map
// and body buffer go to the connection's free pools and the Message
// itself (unless inline) to its free Messages, from which copies take
// them when the slot is empty. Built with microsim_poison, the message
// is overwritten instead (package internal/poison) and left to the GC.
//
// The slots serve the connections that carry one call at a time, most of
// a large world's, each of which may wait long between calls: one atomic
// operation takes a message with its header map and body, where the pools
// took three to four (each on cold memory once the connection waited),
// and the GC, which empties the pools, leaves the slots alone. A
// connection busy with many calls at once finds its slots mostly empty
// and uses the pools as before.

const (
	// maxFreeHeader: a larger header map is left to the GC.
	maxFreeHeader = 16
	// maxFreeBody: a larger body buffer is left to the GC.
	maxFreeBody = 64<<10 + 1<<10
	// maxSpareBody: a larger body buffer goes to the pool rather than a
	// spare slot, so that an idle connection keeps at most this much
	// body memory a direction beyond a GC.
	maxSpareBody = 4 << 10
)

// lendLocked records m as what the reader's Recv returns, taking back what
// the Recv before returned. Called under p.mu by the reader.
func (p *pipe) lendLocked(m *transport.Message, c *conn, dir int) {
	p.reclaimLocked(c, dir)
	p.last = m
}

// reclaimLocked takes back what the reader's last Recv returned, if
// anything: its lease ended. Called under p.mu.
func (p *pipe) reclaimLocked(c *conn, dir int) {
	m := p.last
	if m == nil {
		return
	}
	p.last = nil
	if poison.On {
		poison.Bytes(m.Body)
		poison.Header(m.Header)
		return
	}
	c.release(m, m == &p.first, dir)
}

// spareSlot holds a Message whose lease ended, with its header map and
// body buffer, or nil, in a cache line of its own (a conn's slots). It
// starts with seed, an empty Message of the slot's own, so that a
// connection's first message starts the circulation without an
// allocation; seed shares the slot's cache line, so that a connection
// that carries one call at a time, which finds its seed in the slot
// every time, reads one line less.
type spareSlot struct {
	msg  atomic.Pointer[transport.Message]
	seed transport.Message
	_    [64 - unsafe.Sizeof(atomic.Pointer[transport.Message]{}) - unsafe.Sizeof(transport.Message{})]byte
}

// takeSpare returns the message in the spare slot of direction dir, with
// the header map and body buffer it kept, emptying the slot, or nil. A
// slot found empty means that another message of that direction is in
// flight: the connection carries several at once, and its copies use the
// pools from then on (conn.pooled).
func (c *conn) takeSpare(dir int) *transport.Message {
	if poison.On || c.pooled.Load() {
		return nil
	}
	m := c.slots[dir].msg.Swap(nil)
	if m == nil {
		c.pooled.Store(true)
	}
	return m
}

// poolMissed records that a pool had nothing to give: the GC emptied it,
// so the connection was quiet, and its copies take the spare slots again.
func (c *conn) poolMissed() {
	if c.pooled.Load() {
		c.pooled.Store(false)
	}
}

// release keeps m, a message of direction dir that nobody uses any more
// (its lease ended, or it was never queued), for later copies: in the
// spare slot when it is empty and m is not inline (a pipe's first
// message, which is part of its stream), else in the free pools.
func (c *conn) release(m *transport.Message, inline bool, dir int) {
	h, b := m.Header, m.Body
	sp := &c.slots[dir]
	if !poison.On && !inline && sp.msg.Load() == nil {
		kh, kb := h, b[:0]
		if len(h) > maxFreeHeader {
			kh = nil // left to the GC, as putFree would
		}
		if cap(b) > maxSpareBody {
			kb = nil
		}
		m.Header, m.Body = kh, kb
		if sp.msg.CompareAndSwap(nil, m) {
			if kb == nil {
				c.putFree(nil, b, dir)
			}
			return
		}
		// Taken meanwhile: m is still ours.
	}
	*m = transport.Message{}
	c.putFree(h, b, dir)
	if !inline && m != &sp.seed {
		// (A seed waits for its slot to be empty instead: in the pool, it
		// would write its slot's cache line wherever it went.)
		c.freeMsgs.Put(m)
	}
}

// bodyBuf carries a free body buffer in a pool (a []byte put there as it
// is would be boxed: an allocation each time).
type bodyBuf struct{ b []byte }

// putFree keeps h and b (either may be nil), received in direction dir,
// for later copies. h keeps its entries until copyFree reuses it for a
// message sent the same way (most likely one with the same keys): at most
// maxFreeHeader of them, in a pool the GC empties.
func (c *conn) putFree(h map[string]string, b []byte, dir int) {
	if h != nil && len(h) <= maxFreeHeader {
		c.freeHeaders[dir].Put(h) // not cleared: copyFree overwrites it
	}
	if b != nil && cap(b) <= maxFreeBody {
		bb, _ := c.bodyBufs.Get().(*bodyBuf)
		if bb == nil {
			bb = new(bodyBuf)
		}
		bb.b = b[:0]
		c.freeBodies.Put(bb)
	}
}

// copyFree returns copies of h and b (nil for nil), to be sent in
// direction dir, in fh and fb (a spare message's header map and body
// buffer, either may be nil) or else a free header map and a free body
// buffer (if the one it gets is large enough) when there are, and their
// size as transport.Message.Size counts it. What it does not use of fh and
// fb goes to the free pools.
func (c *conn) copyFree(h map[string]string, b []byte, fh map[string]string, fb []byte, dir int) (map[string]string, []byte, int) {
	size := len(b)
	var hc map[string]string
	if h != nil {
		if hc = fh; hc == nil {
			if hc, _ = c.freeHeaders[dir].Get().(map[string]string); hc == nil {
				c.poolMissed()
			}
		}
		if hc != nil {
			// hc holds a released message's headers. Copying h over them
			// leaves exactly h when they were all keys of h (the common
			// case: the same kind of message again), which their count
			// tells; otherwise clear and copy again. Cheaper than clearing
			// every free map.
			for k, v := range h {
				hc[k] = v
				size += len(k) + len(v)
			}
			if len(hc) != len(h) {
				clear(hc)
				maps.Copy(hc, h)
			}
		} else {
			// One pass that copies and counts: cheaper than maps.Clone
			// (which copies the table as it is) and a second pass to count.
			hc = make(map[string]string, len(h))
			for k, v := range h {
				hc[k] = v
				size += len(k) + len(v)
			}
		}
	} else if fh != nil {
		c.freeHeaders[dir].Put(fh)
	}
	if b == nil {
		if fb != nil {
			c.putFree(nil, fb, dir)
		}
		return hc, nil, size
	}
	if fb != nil && cap(fb) >= len(b) {
		bc := fb[:len(b)]
		copy(bc, b)
		return hc, bc, size
	}
	var bc []byte
	if bb, _ := c.freeBodies.Get().(*bodyBuf); bb == nil {
		c.poolMissed()
	} else {
		if cap(bb.b) >= len(b) {
			bc = bb.b[:len(b)]
			bb.b = nil
			c.bodyBufs.Put(bb)
			copy(bc, b)
		} else {
			c.freeBodies.Put(bb) // too small for b: left for a smaller one
		}
	}
	if fb != nil {
		c.putFree(nil, fb, dir) // too small for b: left for a smaller one
	}
	if bc == nil {
		bc = make([]byte, len(b)) // the compiler's make+copy: not zeroed first
		copy(bc, b)
	}
	return hc, bc, size
}
