package client

import (
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/microsim/microsim/framework/transport"
)

// pool keeps up to size connections per address and hands them out in
// rotation. Each connection multiplexes many streams, so one is usually
// enough. Dials to one address are single-flighted; no mutex is held across
// a dial.
type pool struct {
	tr   transport.Transport
	size int

	mu      sync.Mutex
	closed  bool
	entries map[string]*poolEntry
	retired []transport.Conn // refused new streams; closed with the pool

	// full maps each address whose entry has size connections to them: a
	// copy of entries' conns, replaced (under mu) whenever they change, so
	// that get takes no lock when there is nothing to dial. rr rotates
	// over them.
	full atomic.Pointer[map[string][]transport.Conn]
	rr   atomic.Uint32
}

type poolEntry struct {
	conns   []transport.Conn
	next    int
	dialing chan struct{} // non-nil while a dial is under way; closed when it ends
}

func newPool(tr transport.Transport, size int) *pool {
	return &pool{tr: tr, size: size, entries: make(map[string]*poolEntry)}
}

// get returns a connection to addr, dialling one if the address has fewer
// than size. It blocks while dialling.
func (p *pool) get(ctx context.Context, addr string) (transport.Conn, error) {
	if full := p.full.Load(); full != nil {
		switch cs := (*full)[addr]; len(cs) {
		case 0:
		case 1:
			return cs[0], nil
		default:
			return cs[int(p.rr.Add(1))%len(cs)], nil
		}
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		e := p.entries[addr]
		if e == nil {
			e = &poolEntry{}
			p.entries[addr] = e
		}
		n := len(e.conns)
		if n >= p.size || (n > 0 && e.dialing != nil) {
			c := e.conns[e.next%n]
			e.next++
			p.mu.Unlock()
			return c, nil
		}
		if wait := e.dialing; wait != nil {
			p.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		e.dialing = done
		p.mu.Unlock()

		c, err := p.tr.Dial(ctx, addr)

		p.mu.Lock()
		e.dialing = nil
		close(done)
		if err != nil {
			p.mu.Unlock()
			return nil, err
		}
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return nil, ErrClosed
		}
		e.conns = append(e.conns, c)
		p.publishLocked(addr)
		p.mu.Unlock()
		return c, nil
	}
}

// evict drops c from the pool and closes it.
func (p *pool) evict(addr string, c transport.Conn) {
	p.drop(addr, c)
	c.Close()
}

// retire drops c from the pool without closing it, so streams still open
// on it finish; the pool closes it at the latest when the pool closes.
// Retired connections the peer has closed since (Conn.Done) are let
// go of here, so a long-lived client whose servers restart keeps only the
// retired connections that are still draining.
func (p *pool) retire(addr string, c transport.Conn) {
	if !p.drop(addr, c) {
		return
	}
	p.mu.Lock()
	closed := p.closed
	var gone []transport.Conn
	if !closed {
		live := p.retired[:0]
		for _, r := range p.retired {
			if isDone(r) {
				gone = append(gone, r)
			} else {
				live = append(live, r)
			}
		}
		clear(p.retired[len(live):])
		p.retired = append(live, c)
	}
	p.mu.Unlock()
	if closed {
		c.Close()
	}
	for _, r := range gone {
		r.Close() // already closed by the peer: this releases what is left
	}
}

// isDone reports whether c says it is closed or broken.
func isDone(c transport.Conn) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

// drop removes c from the pool and reports whether it was there.
func (p *pool) drop(addr string, c transport.Conn) bool {
	found := false
	p.mu.Lock()
	if e := p.entries[addr]; e != nil {
		for i, x := range e.conns {
			if x == c {
				e.conns = append(e.conns[:i], e.conns[i+1:]...)
				found = true
				break
			}
		}
		if len(e.conns) == 0 && e.dialing == nil {
			delete(p.entries, addr)
		}
	}
	if found {
		p.publishLocked(addr)
	}
	p.mu.Unlock()
	return found
}

// close closes every pooled connection; later gets fail with ErrClosed.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	conns := p.retired
	p.retired = nil
	for _, e := range p.entries {
		conns = append(conns, e.conns...)
	}
	p.entries = nil
	p.full.Store(nil)
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// publishLocked replaces full after the entry of addr changed. The other
// addresses keep their published slices (never modified once published):
// a client that dials a thousand nodes copies map entries, not every
// connection list, on each dial. Called under mu.
func (p *pool) publishLocked(addr string) {
	var full map[string][]transport.Conn
	if old := p.full.Load(); old != nil {
		full = maps.Clone(*old)
	} else {
		full = make(map[string][]transport.Conn, 1)
	}
	if e := p.entries[addr]; e != nil && len(e.conns) >= p.size {
		full[addr] = slices.Clone(e.conns)
	} else {
		delete(full, addr)
	}
	p.full.Store(&full)
}
