package memory

import (
	"maps"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/internal/poison"
)

// Lent messages (the package transport's ownership rule). What Recv
// returns is lent until the reader's next Recv or Close: then the pipe
// takes it back (reclaimLocked), and its header map and body buffer go to
// the connection's free pools, from which the copies Send makes on that
// connection (either way) take them, and the Message itself (unless it is
// the pipe's inline first one) to the connection's free Messages. Built
// with microsim_poison, the message is overwritten instead (package
// internal/poison) and left to the GC.

const (
	// maxFreeHeader: a larger header map is left to the GC.
	maxFreeHeader = 16
	// maxFreeBody: a larger body buffer is left to the GC.
	maxFreeBody = 64<<10 + 1<<10
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
	h, b := m.Header, m.Body
	*m = transport.Message{}
	c.putFree(h, b, dir)
	if m != &p.first {
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
// direction dir, in a free header map and a free body buffer (if the one
// it gets is large enough) when there are, and their size as
// transport.Message.Size counts it.
func (c *conn) copyFree(h map[string]string, b []byte, dir int) (map[string]string, []byte, int) {
	size := len(b)
	var hc map[string]string
	if h != nil {
		if hc, _ = c.freeHeaders[dir].Get().(map[string]string); hc != nil {
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
	}
	if b == nil {
		return hc, nil, size
	}
	if bb, _ := c.freeBodies.Get().(*bodyBuf); bb != nil {
		if cap(bb.b) >= len(b) {
			bc := bb.b[:len(b)]
			bb.b = nil
			c.bodyBufs.Put(bb)
			copy(bc, b)
			return hc, bc, size
		}
		c.freeBodies.Put(bb) // too small for b: left for a smaller one
	}
	bc := make([]byte, len(b)) // the compiler's make+copy: not zeroed first
	copy(bc, b)
	return hc, bc, size
}
