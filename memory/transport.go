package memory

// The in-memory transport.
//
// Addresses are "host:port"; an empty host part means the calling host.
// Listen("") and Listen("host:0") pick the next free port of the host,
// counting up from 49152; the dialling side of every connection gets a
// pseudo address "clienthost:port" from the same counter, which is what the
// server side of its streams reports as RemoteAddr.
//
// The listeners' Serve functions run on one pool of goroutines per network
// (transport_serve.go): an opened stream goes to the goroutine that waited
// last, or a new one when none waits; nothing else here starts a
// goroutine, but for the context.AfterFunc that wakes the parked takers of
// a listener nobody serves (tests take its streams one at a time) once a
// ctx they wait with ends. A stream holds a bounded queue of copied
// *transport.Message each way (WithStreamBuffer messages each) behind a
// mutex, and the copy of the first message each way (so a
// unary call's request and reply need no Message of their own). A stream
// whose two sockets are closed goes back to its connection for the next
// stream it opens; its sockets are never reused, so a socket used after
// Close stays closed and acts on nothing (transport_stream.go). Streams
// and sockets come from slabs (internal/slab: one allocation per sixteen).
// A listener nobody serves yet is a bounded queue of opened streams
// (WithAcceptBacklog) and a stack of parked takers, to which an opener
// hands its stream directly. A call that must wait selects on a wake
// channel of its stream (taken the first time one waits from the
// connection's spares; a stream keeps its channels while the connection
// reuses it, and gives them back when it is dropped) and its ctx; every
// event that can end a wait (a message, room, a half-close, a close, a
// refusal, a reset of the connection) sends a token to the channels it
// concerns. No waiter selects on a channel all the others share, and
// every mutex is released before any channel operation that can block. A
// message keeps a nil Header or Body nil, as the TCP transport does.
//
// Received messages follow the package transport's lease: Send copies the
// message into the receiver's queue, in a Message, header map and body
// buffer the network got back earlier (its spare messages for that
// direction, shared by every connection), and the receiver's next Recv or
// Close gives them back (transport_lease.go); the strings of a header are
// the sender's, which nobody writes. Built with microsim_poison, a
// message whose lease ended is overwritten instead.
//
// Errors:
//   - Dial to an address nobody listens on, or to a host that is down:
//     ErrRefused, at once.
//   - Dial or Listen from a host that is down: ErrClosed ("host is down"):
//     the caller's own transport is unusable, and retrying elsewhere cannot help.
//   - NewStream on a conn whose listener closed: ErrRefused; on a conn closed
//     locally: ErrClosed; on a conn reset by a crash: ErrReset.
//   - Conn.Close resets its streams: the server side fails with ErrReset, the
//     client side with an error wrapping both ErrClosed and ErrReset.
//   - A crash (Host.Crash, Network.Close) closes the host's listeners first,
//     so streams still waiting to be accepted by them fail with ErrRefused,
//     then resets every connection to or from the host: all other streams
//     fail with ErrReset on both sides.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/internal/slab"
)

// Port range for ports picked by the transport ("host:0" and dialling sides).
const (
	firstPickedPort = 49152
	lastPort        = 65535
)

// transportState is the network-wide part of the transport: which listener
// owns which address, the live connections (so a crash can reset them) and
// each host's port counter.
type transportState struct {
	net *Network

	mu        sync.Mutex
	listeners map[string]*listener // by address
	conns     map[*conn]struct{}
	nextPort  map[string]int // by host name

	// serve runs the listeners' Serve functions (transport_serve.go).
	serve servePool

	// streams makes the streams of every connection (newStream): the
	// slab of the stream opened last, on any connection, whose memory is
	// the likeliest to be in the CPU's caches. A slab of each connection's
	// own would hand a connection used now and then (most of a large
	// world's) a stream next to one it opened long ago, on memory long out
	// of the caches, which the call then writes. (A slab is freed once
	// none of its streams is reachable, whichever connections they are of.)
	streams slab.Source[stream]
	// socks makes the sockets of every stream's use (newStream).
	socks slab.Source[sockets]
	// spares are the messages whose lease ended, by direction (dirUp,
	// dirDown), for the copies of every connection (transport_lease.go).
	spares [2]sync.Pool
}

func newTransportState(n *Network) *transportState {
	return &transportState{
		net:       n,
		listeners: make(map[string]*listener),
		conns:     make(map[*conn]struct{}),
		nextPort:  make(map[string]int),
	}
}

// crashHost closes every listener on host (unaccepted streams are refused)
// and then resets every connection to or from it. It does not block.
func (s *transportState) crashHost(host string) {
	var ls []*listener
	var cs []*conn
	s.mu.Lock()
	for addr, l := range s.listeners {
		if l.host.name == host {
			ls = append(ls, l)
			delete(s.listeners, addr)
		}
	}
	for c := range s.conns {
		if c.from.name == host || c.l.host.name == host {
			cs = append(cs, c)
			delete(s.conns, c)
		}
	}
	s.mu.Unlock()
	for _, l := range ls {
		l.shutdown()
	}
	for _, c := range cs {
		c.reset(
			fmt.Errorf("memory: connection to %s: %w: host %q crashed", c.l.addr, transport.ErrReset, host),
			fmt.Errorf("memory: connection from %s: %w: host %q crashed", c.local, transport.ErrReset, host),
		)
	}
}

// pickPort returns the next port of host that no listener uses. s.mu is held.
func (s *transportState) pickPort(host string) (int, error) {
	p := s.nextPort[host]
	for range lastPort - firstPickedPort + 1 {
		if p < firstPickedPort || p > lastPort {
			p = firstPickedPort
		}
		cand := p
		p++
		if _, used := s.listeners[joinAddr(host, cand)]; !used {
			s.nextPort[host] = p
			return cand, nil
		}
	}
	return 0, fmt.Errorf("memory: no free port on host %q", host)
}

// forgetListener frees l's address if l still owns it.
func (s *transportState) forgetListener(l *listener) {
	s.mu.Lock()
	if s.listeners[l.addr] == l {
		delete(s.listeners, l.addr)
	}
	s.mu.Unlock()
}

// forgetConn drops c from the live connections.
func (s *transportState) forgetConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// hostTransport is one host's transport.Transport.
type hostTransport struct {
	h *Host
}

func newHostTransport(h *Host) transport.Transport { return &hostTransport{h: h} }

// Listen binds addr on this host and does not block. addr is "" or
// "host:0" for a free port, or "host:port" for exactly that port; host must
// be this host (or empty). It fails if the address is malformed, belongs to
// another host, is in use, or this host is down (ErrClosed).
func (t *hostTransport) Listen(addr string) (transport.Listener, error) {
	host, port, err := splitAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("memory: listen: %w", err)
	}
	if host == "" {
		host = t.h.name
	}
	if host != t.h.name {
		return nil, fmt.Errorf("memory: listen %s: the address belongs to host %q, not to %q", addr, host, t.h.name)
	}
	st := t.h.net.tr
	st.mu.Lock()
	defer st.mu.Unlock()
	if !t.h.Up() {
		return nil, fmt.Errorf("memory: listen %s: %w", addr, t.h.errDown(transport.ErrClosed))
	}
	if port == 0 {
		if port, err = st.pickPort(host); err != nil {
			return nil, fmt.Errorf("memory: listen %s: %w", addr, err)
		}
	}
	bound := joinAddr(host, port)
	if _, used := st.listeners[bound]; used {
		return nil, fmt.Errorf("memory: listen %s: address already in use", bound)
	}
	l := newListener(st, t.h, bound)
	st.listeners[bound] = l
	return l, nil
}

// Dial connects to the listener at addr ("host:port"; an empty host means
// this host). It never waits: it fails at once with ErrRefused when nobody
// listens there or the target host is down, with ErrClosed when this host is
// down, and with ctx.Err() when ctx is already done.
func (t *hostTransport) Dial(ctx context.Context, addr string) (transport.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: dial %s: %w", addr, err)
	}
	host, port, err := splitAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("memory: dial: %w", err)
	}
	if port == 0 {
		return nil, fmt.Errorf("memory: dial %q: no port", addr)
	}
	if host == "" {
		host = t.h.name
	}
	target := joinAddr(host, port)
	st := t.h.net.tr
	st.mu.Lock()
	defer st.mu.Unlock()
	if !t.h.Up() {
		return nil, fmt.Errorf("memory: dial %s: %w", target, t.h.errDown(transport.ErrClosed))
	}
	l := st.listeners[target]
	if l == nil {
		return nil, fmt.Errorf("memory: dial %s: %w", target, transport.ErrRefused)
	}
	if !l.host.Up() {
		return nil, fmt.Errorf("memory: dial %s: %w", target, l.host.errDown(transport.ErrRefused))
	}
	p, err := st.pickPort(t.h.name)
	if err != nil {
		return nil, fmt.Errorf("memory: dial %s: %w", target, err)
	}
	c := newConn(t.h, l, joinAddr(t.h.name, p))
	st.conns[c] = struct{}{}
	return c, nil
}

// splitAddr parses "host:port" ("" is ":0"). The host may be empty; the port
// is decimal in [0, 65535].
func splitAddr(addr string) (host string, port int, err error) {
	if addr == "" {
		return "", 0, nil
	}
	host, ps, ok := strings.Cut(addr, ":")
	if !ok {
		return "", 0, fmt.Errorf("malformed address %q: missing port", addr)
	}
	if ps == "" || len(ps) > 5 || strings.Trim(ps, "0123456789") != "" {
		return "", 0, fmt.Errorf("malformed address %q: bad port %q", addr, ps)
	}
	port, _ = strconv.Atoi(ps)
	if port > lastPort {
		return "", 0, fmt.Errorf("malformed address %q: port %d out of range", addr, port)
	}
	return host, port, nil
}

func joinAddr(host string, port int) string { return host + ":" + strconv.Itoa(port) }
