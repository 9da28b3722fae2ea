package memory

import (
	"maps"

	"github.com/microsim/microsim/framework/transport"
)

// Released messages (transport.Releaser). A socket takes back only the
// message its last Recv returned, once: that is how it knows a message is
// its own and not yet released (another socket's, one the caller built, a
// second Release, one released after a later Recv: all ignored). The
// message's header map and body buffer go to its connection's free lists,
// from which the copies Send makes on that connection (either way) take
// them, so that a caller that releases its replies — the client does —
// saves the copy's allocations of the next message.

const (
	// maxFreeMsgs bounds each free list of a connection.
	maxFreeMsgs = 32
	// maxFreeHeader: a larger header map is left to the GC.
	maxFreeHeader = 16
	// maxFreeBody: a larger body buffer is left to the GC.
	maxFreeBody = 64<<10 + 1<<10
)

var (
	_ transport.Releaser     = (*socket)(nil)
	_ transport.BodyReleaser = (*socket)(nil)
)

// Release implements transport.Releaser. It does not block.
func (s *socket) Release(m *transport.Message) {
	p := s.in
	p.mu.Lock()
	if m == nil || m != p.last {
		p.mu.Unlock()
		return
	}
	p.last = nil
	h, b := m.Header, m.Body
	m.Header, m.Body = nil, nil
	p.mu.Unlock()
	s.st.conn.putFree(h, b)
}

// ReleaseBody implements transport.BodyReleaser: the body of the message
// the last Recv returned goes to the free list; the message and its header
// stay the caller's (a copy's header map never shares memory with its
// body). A later Release of m takes back its header map. It does not block.
func (s *socket) ReleaseBody(m *transport.Message) {
	p := s.in
	p.mu.Lock()
	if m == nil || m != p.last || m.Body == nil {
		p.mu.Unlock()
		return
	}
	b := m.Body
	m.Body = nil
	p.mu.Unlock()
	s.st.conn.putFree(nil, b)
}

// putFree keeps h and b (either may be nil) for later copies.
func (c *conn) putFree(h map[string]string, b []byte) {
	c.freeMu.Lock()
	defer c.freeMu.Unlock()
	if h != nil && len(h) <= maxFreeHeader && len(c.freeHeaders) < maxFreeMsgs {
		clear(h)
		c.freeHeaders = append(c.freeHeaders, h)
	}
	if b != nil && cap(b) <= maxFreeBody && len(c.freeBodies) < maxFreeMsgs {
		c.freeBodies = append(c.freeBodies, b[:0])
	}
}

// copyFree returns copies of h and b (nil for nil), in a free header map
// and a free body buffer (the last one freed, if it is large enough) when
// there are, taken under one lock.
func (c *conn) copyFree(h map[string]string, b []byte) (map[string]string, []byte) {
	var hc map[string]string
	var bc []byte
	c.freeMu.Lock()
	if n := len(c.freeHeaders); h != nil && n > 0 {
		hc = c.freeHeaders[n-1]
		c.freeHeaders[n-1] = nil
		c.freeHeaders = c.freeHeaders[:n-1]
	}
	if n := len(c.freeBodies); b != nil && n > 0 && cap(c.freeBodies[n-1]) >= len(b) {
		bc = c.freeBodies[n-1][:len(b)]
		c.freeBodies[n-1] = nil
		c.freeBodies = c.freeBodies[:n-1]
	}
	c.freeMu.Unlock()
	switch {
	case h == nil:
	case hc == nil:
		hc = maps.Clone(h)
	default:
		maps.Copy(hc, h)
	}
	switch {
	case b == nil:
	case bc == nil:
		bc = make([]byte, len(b)) // the compiler's make+copy: not zeroed first
		copy(bc, b)
	default:
		copy(bc, b)
	}
	return hc, bc
}
