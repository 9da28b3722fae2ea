package memory

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/microsim/microsim/framework/transport"
)

// listener is a transport.Listener: a bounded queue of opened streams.
//
// A stream leaves the queue exactly once: by Accept (accepted) or by drain
// (refused). Once closed is set no stream is accepted any more; whoever
// puts a stream into the queue checks closed afterwards and drains, so no
// stream is stranded in the queue of a closed listener. A stream whose
// connection ends while it waits keeps its slot until Accept discards it.
type listener struct {
	st    *transportState
	host  *Host
	addr  string
	queue chan *stream
	done  chan struct{} // closed by shutdown

	closed atomic.Bool
}

func newListener(st *transportState, h *Host, addr string) *listener {
	return &listener{
		st:    st,
		host:  h,
		addr:  addr,
		queue: make(chan *stream, st.net.cfg.acceptBacklog),
		done:  make(chan struct{}),
	}
}

// Accept blocks until a client opens a stream, the listener is closed
// (ErrClosed) or ctx is done. Streams of connections that were closed or
// reset while they waited are dropped.
func (l *listener) Accept(ctx context.Context) (transport.Socket, error) {
	for {
		if l.isClosed() {
			return nil, l.errClosed()
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// A stream already waiting is taken without a select over the
		// three channels (the common case under load).
		var s *stream
		select {
		case s = <-l.queue:
		default:
			select {
			case s = <-l.queue:
			case <-l.done:
				return nil, l.errClosed()
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if l.isClosed() {
			s.refuse(l.addr)
			l.drain()
			return nil, l.errClosed()
		}
		select {
		case <-s.conn.done:
			continue // nobody is left to talk to
		default:
		}
		return &s.server, nil
	}
}

// Addr is the "host:port" the listener is bound to.
func (l *listener) Addr() string { return l.addr }

// Close frees the address at once, refuses the streams waiting to be
// accepted and unblocks pending Accepts; accepted streams are unaffected.
// It does not block. Idempotent.
func (l *listener) Close() error {
	l.st.forgetListener(l)
	l.shutdown()
	return nil
}

// shutdown closes l without touching the address table.
func (l *listener) shutdown() {
	if !l.closed.Swap(true) {
		close(l.done)
	}
	l.drain()
}

func (l *listener) isClosed() bool { return l.closed.Load() }

// drain refuses every stream waiting in the queue. It does not block.
func (l *listener) drain() {
	for {
		select {
		case s := <-l.queue:
			s.refuse(l.addr)
		default:
			return
		}
	}
}

func (l *listener) errClosed() error {
	return fmt.Errorf("memory: accept on %s: %w", l.addr, transport.ErrClosed)
}

// conn is a transport.Conn: the client side of a connection to one listener.
// It owns no goroutine; its streams select on done to learn of a reset.
type conn struct {
	from  *Host
	l     *listener
	local string // the dialling side's pseudo address

	once      sync.Once
	done      chan struct{} // closed when the connection is closed or reset
	clientErr error         // what client-side streams report once done is closed
	serverErr error         // what server-side streams report once done is closed
	newErr    error         // what NewStream reports once done is closed

	notifyMu sync.Mutex
	notified map[*socket]struct{} // sockets with a NotifyRecv callback

	wakeMu sync.Mutex
	spare  []chan struct{} // wake channels of ended streams, empty, for reuse

	freeMu      sync.Mutex
	freeHeaders []map[string]string // of released messages, cleared (transport_release.go)
	freeBodies  [][]byte            // of released messages
}

// maxSpareWakes bounds the wake channels a connection keeps for reuse.
const maxSpareWakes = 256

// takeWake returns an empty wake channel (cap 1): a spare one, or a new one.
func (c *conn) takeWake() chan struct{} {
	c.wakeMu.Lock()
	if n := len(c.spare); n > 0 {
		ch := c.spare[n-1]
		c.spare[n-1] = nil
		c.spare = c.spare[:n-1]
		c.wakeMu.Unlock()
		return ch
	}
	c.wakeMu.Unlock()
	return make(chan struct{}, 1)
}

// putWake keeps ch (nil: none), emptied, for takeWake. Whoever calls it
// guarantees that nobody else uses ch any more.
func (c *conn) putWake(ch chan struct{}) {
	if ch == nil {
		return
	}
	select {
	case <-ch: // a token nobody waited for
	default:
	}
	c.wakeMu.Lock()
	if len(c.spare) < maxSpareWakes {
		c.spare = append(c.spare, ch)
	}
	c.wakeMu.Unlock()
}

func newConn(from *Host, l *listener, local string) *conn {
	return &conn{from: from, l: l, local: local, done: make(chan struct{})}
}

// NewStream opens a stream and queues it for the listener's Accept. It
// blocks only while the accept queue is full. It fails with ErrRefused when
// the listener is closed, ErrClosed after Close, ErrReset after a crash, or
// ctx.Err().
func (c *conn) NewStream(ctx context.Context) (transport.Socket, error) {
	return c.open(ctx, nil)
}

// open opens a stream whose pipe to the server already holds first (when
// not nil: a copy the reader owns), and queues it for Accept; see NewStream.
func (c *conn) open(ctx context.Context, first *transport.Message) (transport.Socket, error) {
	if err := c.newStreamErr(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := newStream(c)
	if first != nil {
		// Nobody else sees s yet: no lock, and no wait (the pipe is empty).
		s.up.q = append(s.up.q, s.up.copyOf(first, c))
	}
	// Room in the accept queue is the common case: no select over the four
	// channels then (and no Done channel made for ctx).
	select {
	case c.l.queue <- s:
	default:
		select {
		case c.l.queue <- s:
		case <-c.l.done:
			return nil, c.newStreamErr()
		case <-c.done:
			return nil, c.newStreamErr()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if c.l.isClosed() {
		// The listener closed while we queued; maybe after its drain.
		c.l.drain()
	}
	return &s.client, nil
}

// newStreamErr reports why no stream can be opened now, or nil.
func (c *conn) newStreamErr() error {
	select {
	case <-c.done:
		return c.newErr
	default:
	}
	if c.l.isClosed() {
		return fmt.Errorf("memory: new stream to %s: %w: listener closed", c.l.addr, transport.ErrRefused)
	}
	return nil
}

// RemoteAddr is the address that was dialled.
func (c *conn) RemoteAddr() string { return c.l.addr }

var _ transport.Doner = (*conn)(nil)

// Done implements transport.Doner: closed once the connection is closed
// or reset.
func (c *conn) Done() <-chan struct{} { return c.done }

// Close resets every stream of the connection: the server side of each
// fails with ErrReset, the client side with ErrClosed and ErrReset. It does
// not block. Idempotent.
func (c *conn) Close() error {
	c.l.st.forgetConn(c)
	c.resetWith(
		fmt.Errorf("memory: connection to %s closed: %w, %w", c.l.addr, transport.ErrClosed, transport.ErrReset),
		fmt.Errorf("memory: connection from %s: %w by peer", c.local, transport.ErrReset),
		fmt.Errorf("memory: new stream to %s: %w", c.l.addr, transport.ErrClosed),
	)
	return nil
}

// reset breaks the connection with the given errors for each side.
func (c *conn) reset(clientErr, serverErr error) { c.resetWith(clientErr, serverErr, clientErr) }

func (c *conn) resetWith(clientErr, serverErr, newErr error) {
	first := false
	c.once.Do(func() {
		c.clientErr, c.serverErr, c.newErr = clientErr, serverErr, newErr
		close(c.done)
		first = true
	})
	if first {
		c.notifyReset()
	}
}
