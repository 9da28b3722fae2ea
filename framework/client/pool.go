package client

import (
	"context"
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

	// full maps each address whose entry has size connections to them
	// (the entry's pub), so that get takes no lock when there is nothing
	// to dial. It is a snapshot, replaced whole under mu: at once when an
	// address loses a connection, and lazily when one gains its
	// connections. An address dialled since the snapshot is found under mu
	// until the next one, which is taken once such misses, counted under
	// mu, outnumber a quarter of the snapshot: a client dialling N
	// addresses copies O(N) map entries in all, not O(N) on each dial.
	full   atomic.Pointer[map[string]fullConns]
	misses int
	rr     atomic.Uint32 // rotates over an address's connections
}

type poolEntry struct {
	conns   []transport.Conn
	next    int
	dialing chan struct{} // non-nil while a dial is under way; closed when it ends
	// pub is a copy of conns when it has size connections, else nil;
	// replaced when conns changes, never modified.
	pub []transport.Conn
}

// fullConns is an address's connections in the snapshot (pool.full): the
// first kept in the map's slot, so that an address of one connection (the
// default size) is served by reading the map alone, not also a slice's
// array, out of the CPU's cache when the client calls many addresses.
type fullConns struct {
	first transport.Conn
	all   []transport.Conn // the entry's pub
}

func newPool(tr transport.Transport, size int) *pool {
	return &pool{tr: tr, size: size, entries: make(map[string]*poolEntry)}
}

// get returns a connection to addr, dialling one if the address has fewer
// than size. It blocks while dialling.
func (p *pool) get(ctx context.Context, addr string) (transport.Conn, error) {
	if full := p.full.Load(); full != nil {
		switch fc := (*full)[addr]; len(fc.all) {
		case 0:
		case 1:
			return fc.first, nil
		default:
			return fc.all[int(p.rr.Add(1))%len(fc.all)], nil
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
			if n >= p.size {
				p.missLocked() // full, but not in the snapshot
			}
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
		if len(e.conns) >= p.size {
			e.pub = slices.Clone(e.conns)
			p.missLocked()
		}
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
		if found {
			e.pub = nil
			if len(e.conns) >= p.size {
				e.pub = slices.Clone(e.conns)
			}
		}
		if len(e.conns) == 0 && e.dialing == nil {
			delete(p.entries, addr)
		}
	}
	if found {
		p.snapshotLocked() // at once: the snapshot must not hand out c
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

// missLocked counts a get that the snapshot could not serve and takes a
// new snapshot once they outnumber a quarter of it. Called under mu.
func (p *pool) missLocked() {
	p.misses++
	var n int
	if full := p.full.Load(); full != nil {
		n = len(*full)
	}
	if p.misses > n/4 {
		p.snapshotLocked()
	}
}

// snapshotLocked replaces full with the entries' pub. Called under mu.
func (p *pool) snapshotLocked() {
	full := make(map[string]fullConns, len(p.entries))
	for addr, e := range p.entries {
		if len(e.pub) > 0 {
			full[addr] = fullConns{first: e.pub[0], all: e.pub}
		}
	}
	p.full.Store(&full)
	p.misses = 0
}
