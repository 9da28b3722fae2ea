package memory

import (
	"maps"
	"sync"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/internal/poison"
)

// Lent messages (the package transport's ownership rule). What Recv
// returns is lent until the reader's next Recv or Close: then the pipe
// takes it back (reclaimLocked), and its header map, body buffer and the
// Message itself (unless it is the pipe's inline first one) go to the
// network's free lists, from which the copies Send makes (on any
// connection, either way) take them. Built with microsim_poison, the
// message is overwritten instead (package internal/poison) and left to the
// GC.
//
// The free lists are the network's, plain slices under a mutex, not a
// connection's sync.Pools: in a world of many instances each connection
// is used now and then, and the collector empties a sync.Pool at every
// cycle, so a connection's own pools were mostly found empty (a slow Get,
// then an allocation) and what they held was out of the CPU's caches. One
// set of lists for the network is used by every call, so what it holds
// was used a moment ago; the collector leaves it alone, and its length is
// bounded.

const (
	// maxFreeHeader: a larger header map is left to the GC.
	maxFreeHeader = 16
	// maxFreeBody: a larger body buffer is left to the GC.
	maxFreeBody = 64<<10 + 1<<10
	// maxFreeList: how many maps, bodies and Messages each free list
	// keeps at most; more are left to the GC.
	maxFreeList = 256
)

// freeLists keeps the header maps, body buffers and Messages of messages
// whose lease ended, for later copies. Header maps are kept by direction
// (dirUp, dirDown): the same kind of message comes back.
type freeLists struct {
	mu      sync.Mutex
	headers [2][]map[string]string
	bodies  [][]byte
	msgs    []*transport.Message
}

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
	if m == &p.first {
		m = nil
	}
	c.free.put(h, b, m, dir)
}

// put keeps h, b and m (any may be nil), received in direction dir, for
// later copies. h keeps its entries until copy reuses it for a message
// sent the same way (most likely one with the same keys). m is zero.
func (f *freeLists) put(h map[string]string, b []byte, m *transport.Message, dir int) {
	f.mu.Lock()
	if h != nil && len(h) <= maxFreeHeader && len(f.headers[dir]) < maxFreeList {
		f.headers[dir] = append(f.headers[dir], h) // not cleared: copy overwrites it
	}
	if b != nil && cap(b) <= maxFreeBody && len(f.bodies) < maxFreeList {
		f.bodies = append(f.bodies, b[:0])
	}
	if m != nil && len(f.msgs) < maxFreeList {
		f.msgs = append(f.msgs, m)
	}
	f.mu.Unlock()
}

// take returns a free header map (when h is not nil), a free body buffer
// of at least n bytes (when b is not nil) and a free Message (when msg),
// each nil when there is none.
func (f *freeLists) take(h map[string]string, b []byte, msg bool, dir int) (map[string]string, []byte, *transport.Message) {
	var hc map[string]string
	var bc []byte
	var m *transport.Message
	f.mu.Lock()
	if h != nil {
		if k := len(f.headers[dir]); k > 0 {
			hc = f.headers[dir][k-1]
			f.headers[dir][k-1] = nil
			f.headers[dir] = f.headers[dir][:k-1]
		}
	}
	if b != nil {
		// The last one only: one too small is left for a smaller body.
		if k := len(f.bodies); k > 0 && cap(f.bodies[k-1]) >= len(b) {
			bc = f.bodies[k-1]
			f.bodies[k-1] = nil
			f.bodies = f.bodies[:k-1]
		}
	}
	if msg {
		if k := len(f.msgs); k > 0 {
			m = f.msgs[k-1]
			f.msgs[k-1] = nil
			f.msgs = f.msgs[:k-1]
		}
	}
	f.mu.Unlock()
	return hc, bc, m
}

// copy returns copies of h and b (nil for nil), to be sent in direction
// dir, in a free header map and a free body buffer when there are, a free
// Message (or a new one) when msg, and their size as
// transport.Message.Size counts it.
func (f *freeLists) copy(h map[string]string, b []byte, msg bool, dir int) (map[string]string, []byte, *transport.Message, int) {
	size := len(b)
	hc, bc, m := f.take(h, b, msg, dir)
	if msg && m == nil {
		m = new(transport.Message)
	}
	if h != nil {
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
	}
	if b == nil {
		return hc, nil, m, size
	}
	if bc != nil {
		bc = bc[:len(b)]
		copy(bc, b)
		return hc, bc, m, size
	}
	bc = make([]byte, len(b)) // the compiler's make+copy: not zeroed first
	copy(bc, b)
	return hc, bc, m, size
}
