package memory

import (
	"maps"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/internal/poison"
)

// Lent messages (the package transport's ownership rule). What Recv
// returns is lent until the reader's next Recv or Close: then the pipe
// takes it back (reclaimLocked), and the Message, with its header map and
// body buffer, goes to the network's spare messages for its direction
// (transportState.spares), from which the next copy Send makes that way,
// on any connection of the network, takes all three at once; a copy that
// finds no spare makes a new Message. Built with microsim_poison, the
// message is overwritten instead (package internal/poison) and left to
// the GC.
//
// The spares are the network's, not each connection's, because of where
// their memory is. A large world's connections each carry a call now and
// then, one at a time: a message kept by its connection is out of the
// CPU's caches by that connection's next call, and the copy into it, its
// map's writes and its body's, fetch it again. A spare put back by any
// connection is taken by the next copy on the same processor (a
// sync.Pool's per-processor store), most likely while still in cache.
// The spares hold only what the calls in flight at once gave back; the GC
// drops those the network stopped using.

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
	c.release(m, dir)
}

// copyOf returns a copy of m that the reader owns, so that the sender may
// reuse m, its header map and its body once Send returned, and m's size
// (transport.Message.Size), counted while copying. The copy is a spare
// message of the network for dir when there is one, with its header map
// and body buffer, else a new one. A nil header or body stays nil, as on
// a network transport. A copy that is not queued after all goes back
// with release.
func (c *conn) copyOf(m *transport.Message, dir int) (*transport.Message, int) {
	cp := c.takeSpare(dir)
	if cp == nil {
		cp = new(transport.Message)
	}
	var size int
	cp.Header, cp.Body, size = copyInto(m.Header, m.Body, cp.Header, cp.Body)
	return cp, size
}

// takeSpare returns a spare message of direction dir, with the header
// map and body buffer it kept, or nil.
func (c *conn) takeSpare(dir int) *transport.Message {
	if poison.On {
		return nil
	}
	m, _ := c.spares[dir].Get().(*transport.Message)
	return m
}

// release keeps m, a message of direction dir that nobody uses any more
// (its lease ended, or it was never queued), with its header map and body
// buffer (unless too large), for later copies.
func (c *conn) release(m *transport.Message, dir int) {
	if poison.On {
		return
	}
	h, b := m.Header, m.Body
	if len(h) > maxFreeHeader {
		h = nil
	}
	if cap(b) > maxFreeBody {
		b = nil
	}
	m.Header, m.Body = h, b[:0]
	c.spares[dir].Put(m)
}

// copyInto returns copies of h and b (nil for nil), made in fh and fb (a
// spare message's header map and body buffer, either may be nil) where
// they serve, and their size as transport.Message.Size counts it. What it
// does not use of fh and fb is left to the GC.
func copyInto(h map[string]string, b []byte, fh map[string]string, fb []byte) (map[string]string, []byte, int) {
	size := len(b)
	var hc map[string]string
	if h != nil {
		if hc = fh; hc != nil {
			// hc holds a released message's headers. Copying h over them
			// leaves exactly h when they were all keys of h (the common
			// case: the same kind of message again), which their count
			// tells; otherwise clear and copy again. Cheaper than clearing
			// every spare map.
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
	if fb != nil && cap(fb) >= len(b) {
		bc := fb[:len(b)]
		copy(bc, b)
		return hc, bc, size
	}
	bc := make([]byte, len(b)) // the compiler's make+copy: not zeroed first
	copy(bc, b)
	return hc, bc, size
}
