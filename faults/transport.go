package faults

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/internal/slab"
)

// WrapTransport returns tr with the injector's link faults applied to the
// traffic of node, which tr belongs to; it does not block. resolve names
// the node behind a dialled address; nil means Injector.Resolve (memory
// addresses resolve to their host; register TCP addresses with
// NodeInfo.Addrs or AddAddr).
//
// Link faults act on the dialling side: a connection node dials carries
// requests from node to the resolved peer and replies back, and both
// directions are judged here, message by message, as they are sent
// (requests) or as they arrive (replies). The accepting side only needs
// wrapping for RPC aborts (see RPCFault.Abort). Wrap the transport of every
// node that dials, and wrap each node only once.
//
// Where latency is applied: a delayed request goes into a per-stream
// delivery line and Send returns at once (a socket buffer, not a blocked
// sender); a goroutine of that stream delivers the line in order at each
// message's time, then exits. A delayed reply starts a reader goroutine
// for its stream that timestamps replies as they arrive and hands them to
// Recv at their time. Either way a stream's messages keep their order (a
// message is never delivered before one sent earlier on its stream) and
// streams with nothing delayed start no goroutine. Lines and readers are
// bounded (Send waits when 256 messages are in flight on one stream).
//
// Send refuses a message above the size limit (see MaxMessageSize) at
// once. Close of a socket with delayed requests in flight closes the
// stream after they are delivered, as TCP sends its FIN after the data;
// a delayed request that the stream can no longer carry fails the Sends
// that follow it (Send itself returned when it queued the message).
func (inj *Injector) WrapTransport(node string, tr transport.Transport, resolve func(addr string) string, opts ...TransportOption) transport.Transport {
	if resolve == nil {
		resolve = inj.Resolve
	}
	t := &faultTransport{inj: inj, node: node, tr: tr, resolve: resolve, maxSize: transport.DefaultMaxMessageSize}
	for _, o := range opts {
		if o != nil {
			o(t)
		}
	}
	return t
}

// TransportOption configures WrapTransport.
type TransportOption func(*faultTransport)

// MaxMessageSize tells WrapTransport the underlying transport's message
// size limit (default transport.DefaultMaxMessageSize), so that Send
// refuses a larger message at once with ErrMessageTooLarge, as the
// underlying transport would, even when the message would be delayed.
func MaxMessageSize(n int) TransportOption {
	return func(t *faultTransport) {
		if n > 0 {
			t.maxSize = n
		}
	}
}

type faultTransport struct {
	inj     *Injector
	node    string
	tr      transport.Transport
	resolve func(string) string
	maxSize int
}

// Dial dials addr unless a partition refuses it (ErrRefused, at once) or
// black-holes it (it then waits until the partition heals or ctx ends).
func (t *faultTransport) Dial(ctx context.Context, addr string) (transport.Conn, error) {
	remote := t.resolve(addr)
	for first := true; ; first = false {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("faults: dial %s: %w", addr, err)
		}
		changed := t.inj.changes()
		refused, hole := t.inj.judgeDial(t.node, remote, first)
		if refused != nil {
			return nil, refused
		}
		if !hole {
			break
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("faults: dial %s: black-holed by a partition: %w", addr, ctx.Err())
		}
	}
	c, err := t.tr.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	return &clientConn{t: t, under: c, remote: remote}, nil
}

// Listen listens on addr; accepted streams honour RPC aborts.
func (t *faultTransport) Listen(addr string) (transport.Listener, error) {
	l, err := t.tr.Listen(addr)
	if err != nil {
		return nil, err
	}
	return &faultListener{Listener: l}, nil
}

// clientConn is a dialled connection whose streams the link faults judge.
type clientConn struct {
	t      *faultTransport
	under  transport.Conn
	remote string // the node dialled

	sockets slab.Source[clientSocket] // the streams' wrappers (newClientSocket)

	// ended is set, once, by Close or a fault's reset: what every later
	// operation fails with. Read without a lock by every Send and Recv.
	ended atomic.Pointer[error]

	mu     sync.Mutex
	counts map[*linkRun]*resetCounts // per fault run, for the reset-after faults
}

type resetCounts struct {
	msgs  int
	bytes int64
}

// NewStream opens a stream on the underlying connection. A first message
// is judged as Send judges it; one the link faults let through untouched
// opens the stream with it, in one step, as the underlying connection
// does; any other opens the stream and then takes Send's course.
func (c *clientConn) NewStream(ctx context.Context, first *transport.Message) (transport.Socket, error) {
	if err := c.failed(); err != nil {
		return nil, err
	}
	if first == nil || first.Size() > c.t.maxSize {
		s, err := c.under.NewStream(ctx, nil)
		if err != nil {
			return nil, err
		}
		cs := newClientSocket(c, s)
		if first == nil {
			return cs, nil
		}
		return cs, cs.Send(ctx, first)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v := c.t.inj.judgeLink(c.t.node, c.remote, Requests, first, c)
	if v.pass() {
		s, err := c.under.NewStream(ctx, first)
		if s == nil {
			return nil, err
		}
		return newClientSocket(c, s), err
	}
	s, err := c.under.NewStream(ctx, nil)
	if err != nil {
		return nil, err
	}
	cs := newClientSocket(c, s)
	return cs, cs.apply(ctx, first, v)
}

func (c *clientConn) RemoteAddr() string { return c.under.RemoteAddr() }

// Done is the underlying connection's (a reset by a fault closes it).
func (c *clientConn) Done() <-chan struct{} { return c.under.Done() }

func (c *clientConn) Close() error {
	err := fmt.Errorf("faults: connection to %s closed: %w, %w", c.under.RemoteAddr(), transport.ErrClosed, transport.ErrReset)
	c.ended.CompareAndSwap(nil, &err)
	return c.under.Close()
}

// failed returns why the connection can carry nothing more (a reset by a
// fault, or Close), or nil. It takes no lock.
func (c *clientConn) failed() error {
	if e := c.ended.Load(); e != nil {
		return *e
	}
	return nil
}

// reset breaks the connection on behalf of a fault: the peer's streams
// fail with ErrReset, ours with err (which wraps ErrReset), unless it was
// closed or reset before.
func (c *clientConn) reset(err error) {
	c.ended.CompareAndSwap(nil, &err)
	_ = c.under.Close()
}

// countForReset counts a message of size bytes for run r's reset-after
// limits and returns the reset error when the message would exceed them.
// The fault's mutex is held; c.mu is taken after it, never before.
func (c *clientConn) countForReset(r *linkRun, size int) error {
	s := &r.lf.spec
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = make(map[*linkRun]*resetCounts)
	}
	rc := c.counts[r]
	if rc == nil {
		rc = &resetCounts{}
		c.counts[r] = rc
	}
	if (s.ResetAfterMessages > 0 && rc.msgs >= s.ResetAfterMessages) ||
		(s.ResetAfterBytes > 0 && rc.bytes+int64(size) > s.ResetAfterBytes) {
		return fmt.Errorf("faults: link fault %q reset the connection after %d messages (%d bytes): %w",
			r.lf.f.name, rc.msgs, rc.bytes, transport.ErrReset)
	}
	rc.msgs++
	rc.bytes += int64(size)
	return nil
}

// faultListener wraps the streams it serves in serverSockets.
type faultListener struct {
	transport.Listener
	sockets slab.Source[serverSocket]
}

// Serve serves the underlying listener's streams, each in a serverSocket
// (from the listener's slab source: no allocation of its own per stream).
func (l *faultListener) Serve(handle func(transport.Socket)) error {
	return l.Listener.Serve(func(s transport.Socket) {
		ss := l.sockets.New()
		ss.Socket = s
		handle(ss)
	})
}

// abortID is the error ID of the reply an aborting ServerWrapper returns;
// a serverSocket closes the stream instead of sending it.
const abortID = "microsim.faults.abort"

// serverSocket is the accepting side of a stream: it turns the reply of an
// aborted call into a stream that ends without a reply.
type serverSocket struct {
	transport.Socket
}

func (s *serverSocket) Send(ctx context.Context, m *transport.Message) error {
	if m != nil && m.Header[errors.HeaderID] == abortID {
		// The client sees the stream end without a reply: errors.Interrupted.
		return s.Socket.Close()
	}
	return s.Socket.Send(ctx, m)
}

// SendClose is the underlying socket's, but for an aborted call's reply,
// which closes the stream instead, as Send does.
func (s *serverSocket) SendClose(ctx context.Context, m *transport.Message) error {
	if m != nil && m.Header[errors.HeaderID] == abortID {
		return s.Socket.Close()
	}
	return s.Socket.SendClose(ctx, m)
}
