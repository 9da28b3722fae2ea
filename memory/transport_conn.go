package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/microsim/microsim/framework/transport"
)

// listener is a transport.Listener: a bounded FIFO of opened streams
// (pending) and a stack of accepts parked for the next one (parked), both
// under mu.
//
// An opener hands its stream straight to the most recently parked accept
// when there is one, else queues it; an accept takes the oldest queued
// stream, else parks. A parked accept waits on a channel of its own: a
// stream, or nil for "look again" (the listener closed, or the ctx it
// waits with ended). Whoever takes an acceptor off parked sends it exactly
// one value, so its channel is empty while it is parked and never blocks
// a sender. No channel is shared by the waiters: they do not contend on
// one lock as they would selecting on a common done channel.
//
// A stream leaves the listener exactly once: by accept (accepted) or at
// shutdown (refused). Once closed is set (under mu) nothing is queued or
// handed over any more. A stream whose connection ends while it waits
// keeps its slot until accept discards it.
type listener struct {
	// What every stream opened reads and writes comes first, in one cache
	// line (TestListenerHotFields): in a world of many instances a
	// listener is out of the CPU's cache by its next stream.
	st     *transportState
	mu     sync.Mutex
	closed atomic.Bool // set under mu; read without it
	// handle is Serve's function, set (under mu) once Serve began and the
	// listener is open: from then on push hands every stream to the
	// network's serving goroutines instead of queueing it. inFlight counts
	// the streams handed over whose handle call has not returned; it is
	// added to under mu while the listener is open, so that Serve may wait
	// for it once done is closed.
	handle   func(transport.Socket)
	inFlight sync.WaitGroup

	host    *Host
	addr    string
	backlog int
	done    chan struct{} // closed by shutdown
	serving atomic.Bool   // Serve was called

	pending     []*stream // pending[head:] wait for accept, oldest first
	head        int
	parked      []*acceptor
	room        chan struct{} // closed (and replaced) when a full backlog frees a slot and roomWaiters > 0
	roomWaiters int
	// watchedDone is the Done channel of the ctx whose end an AfterFunc
	// reports to the parked accepts (watch), and unwatch deregisters it.
	watchedDone <-chan struct{}
	unwatch     func() bool

	// acceptors keeps acceptors, with empty channels, between accepts; it
	// is the listener's own because a channel made in a testing/synctest
	// bubble must not be used outside it.
	acceptors sync.Pool
}

// acceptor is one parked accept: its channel receives the stream handed
// to it, or nil.
type acceptor struct{ ch chan *stream }

func newListener(st *transportState, h *Host, addr string) *listener {
	return &listener{
		st:      st,
		host:    h,
		addr:    addr,
		backlog: st.net.cfg.acceptBacklog,
		done:    make(chan struct{}),
		room:    make(chan struct{}),
	}
}

// Serve implements transport.Listener: the network's serving goroutines
// (servePool) call handle with each stream clients open, streams queued
// before Serve first, oldest first. Streams of connections that were
// closed or reset before a goroutine took them are dropped. It returns
// once the listener is closed and every handle call returned.
func (l *listener) Serve(handle func(transport.Socket)) error {
	if l.serving.Swap(true) {
		return fmt.Errorf("memory: serve on %s: already serving", l.addr)
	}
	pool := &l.st.serve
	pool.begin()
	l.mu.Lock()
	if !l.closed.Load() {
		l.handle = handle
		queued := l.pending[l.head:]
		l.pending, l.head = nil, 0
		l.inFlight.Add(len(queued))
		if len(queued) > 0 && l.roomWaiters > 0 {
			close(l.room)
			l.room = make(chan struct{})
		}
		l.mu.Unlock()
		for _, s := range queued {
			pool.dispatch(l, s)
		}
	} else {
		l.mu.Unlock()
	}
	<-l.done
	l.inFlight.Wait()
	pool.end()
	return l.errClosed()
}

// accept blocks until a client opens a stream, the listener is closed
// (ErrClosed) or ctx is done.
func (l *listener) accept(ctx context.Context) (transport.Socket, error) {
	for {
		s, err := l.next(ctx)
		if err != nil {
			return nil, err
		}
		if s.conn.broken.Load() {
			continue // nobody is left to talk to
		}
		return &s.socks.server, nil
	}
}

// next returns the next stream: the oldest queued one, else the next one
// opened, waiting for it.
func (l *listener) next(ctx context.Context) (*stream, error) {
	var a *acceptor
	defer func() {
		if a != nil {
			l.acceptors.Put(a)
		}
	}()
	for {
		l.mu.Lock()
		if l.closed.Load() {
			l.mu.Unlock()
			return nil, l.errClosed()
		}
		// ctx.Err under mu: an end of ctx after it finds a in parked.
		if err := ctx.Err(); err != nil {
			l.mu.Unlock()
			return nil, err
		}
		if s := l.popLocked(); s != nil {
			l.mu.Unlock()
			return s, nil
		}
		if a == nil {
			a, _ = l.acceptors.Get().(*acceptor)
			if a == nil {
				a = &acceptor{ch: make(chan *stream, 1)}
			}
		}
		watched := l.watchLocked(ctx)
		l.parked = append(l.parked, a)
		l.mu.Unlock()
		var s *stream
		if watched {
			s = <-a.ch
		} else {
			select {
			case s = <-a.ch:
			case <-ctx.Done():
				s = l.unpark(a)
			}
		}
		if s != nil {
			if l.closed.Load() {
				// Handed over as the listener closed: refuse it as the
				// shutdown refused the queued ones.
				s.refuse(l.addr)
				return nil, l.errClosed()
			}
			return s, nil
		}
	}
}

// unpark takes a off parked for an accept whose ctx ended, and returns
// what it was sent if somebody took it off first (it then has to wait
// for that value, which is on its way).
func (l *listener) unpark(a *acceptor) *stream {
	l.mu.Lock()
	for i, p := range l.parked {
		if p == a {
			l.parked = slices.Delete(l.parked, i, i+1)
			l.mu.Unlock()
			return nil
		}
	}
	l.mu.Unlock()
	return <-a.ch
}

// popLocked returns the oldest queued stream, or nil. Called under mu.
func (l *listener) popLocked() *stream {
	if l.head == len(l.pending) {
		return nil
	}
	full := len(l.pending)-l.head == l.backlog
	s := l.pending[l.head]
	l.pending[l.head] = nil
	if l.head++; l.head == len(l.pending) {
		l.pending, l.head = l.pending[:0], 0
	}
	if full && l.roomWaiters > 0 {
		close(l.room)
		l.room = make(chan struct{})
	}
	return s
}

// watchLocked reports whether the end of ctx will wake the parked accepts
// (so that a parked accept need not select on ctx.Done), arranging it for
// the first cancellable ctx it sees (Serve's takers wait with one that is
// never done, which needs nothing; a test's accept may pass another).
// Called under mu.
func (l *listener) watchLocked(ctx context.Context) bool {
	d := ctx.Done()
	if d == nil || d == l.watchedDone {
		return true
	}
	if l.watchedDone != nil {
		return false
	}
	l.watchedDone = d
	l.unwatch = context.AfterFunc(ctx, l.wakeParked)
	return true
}

// wakeParked sends every parked accept nil, so that each looks again at
// the listener and its ctx.
func (l *listener) wakeParked() {
	l.mu.Lock()
	parked := l.parked
	l.parked = nil
	l.mu.Unlock()
	for _, a := range parked {
		a.ch <- nil
	}
}

// push hands s to a parked accept or queues it, waiting while the backlog
// is full; it fails (s not queued) once the listener closed, the
// connection ended or ctx is done.
func (l *listener) push(ctx context.Context, s *stream) error {
	c := s.conn
	for {
		l.mu.Lock()
		if l.closed.Load() {
			l.mu.Unlock()
			return c.newStreamErr()
		}
		if l.handle != nil {
			l.inFlight.Add(1)
			l.mu.Unlock()
			l.st.serve.dispatch(l, s)
			return nil
		}
		if n := len(l.parked); n > 0 {
			a := l.parked[n-1]
			l.parked[n-1] = nil
			l.parked = l.parked[:n-1]
			l.mu.Unlock()
			a.ch <- s
			return nil
		}
		if len(l.pending)-l.head < l.backlog {
			l.pending = append(l.pending, s)
			l.mu.Unlock()
			return nil
		}
		room := l.room
		l.roomWaiters++
		l.mu.Unlock()
		var err error
		select {
		case <-room:
		case <-l.done:
		case <-c.done:
			err = c.newStreamErr()
		case <-ctx.Done():
			err = ctx.Err()
		}
		l.mu.Lock()
		l.roomWaiters--
		l.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

// Addr is the "host:port" the listener is bound to.
func (l *listener) Addr() string { return l.addr }

// Close frees the address at once, refuses the streams waiting to be
// accepted and unblocks pending accepts; accepted streams are unaffected.
// It does not block. Idempotent.
func (l *listener) Close() error {
	l.st.forgetListener(l)
	l.shutdown()
	return nil
}

// shutdown closes l without touching the address table: the queued
// streams are refused and the parked accepts return ErrClosed.
func (l *listener) shutdown() {
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		return
	}
	l.closed.Store(true)
	close(l.done)
	queued := l.pending[l.head:]
	l.pending, l.head = nil, 0
	parked := l.parked
	l.parked = nil
	unwatch := l.unwatch
	l.unwatch = nil
	l.mu.Unlock()
	if unwatch != nil {
		unwatch()
	}
	for _, a := range parked {
		a.ch <- nil
	}
	for _, s := range queued {
		s.refuse(l.addr)
	}
}

func (l *listener) isClosed() bool { return l.closed.Load() }

func (l *listener) errClosed() error { return &acceptClosedError{addr: l.addr} }

// acceptClosedError is what accepting on a closed listener returns: it
// wraps transport.ErrClosed, and its message is written only when asked
// for (a world's teardown closes every listener, and its servers look
// only at errors.Is).
type acceptClosedError struct{ addr string }

func (e *acceptClosedError) Error() string {
	return "memory: accept on " + e.addr + ": " + transport.ErrClosed.Error()
}

func (e *acceptClosedError) Unwrap() error { return transport.ErrClosed }

// conn is a transport.Conn: the client side of a connection to one listener.
// It owns no goroutine; a reset closes done and wakes every stream that
// waits (wakeWaits).
type conn struct {
	// The fields every call reads come first, in one cache line: in a
	// world of many instances a connection is out of the CPU's cache by
	// its next call (TestConnHotFields).
	from      *Host
	l         *listener
	maxMsg    int // the network's message size limit
	streamBuf int // the network's stream buffer: messages a pipe queues before Send blocks
	// spares are the network's spare messages (transportState.spares),
	// which every copy takes from and every release gives back to.
	spares *[2]sync.Pool
	// broken is set once the connection is closed or reset, before done
	// is closed: what the calls on its streams check, where done is a
	// channel of its own, another cache line to fetch.
	broken atomic.Bool
	// spareStream is the stream the connection's last use recycled, for
	// its next NewStream (stream.recycle); nil when there is none.
	spareStream atomic.Pointer[stream]

	// What a stream's first wait, a reset and a stream's first NotifyRecv
	// use.
	wakeMu sync.Mutex
	woken  bool            // the reset sent its tokens: a channel taken later gets one at once
	spare  []chan struct{} // wake channels of ended streams, empty, for reuse
	made   []chan struct{} // every wake channel made: a reset sends each a token

	notifyMu sync.Mutex
	notified map[*stream]struct{} // streams a NotifyRecv armed a callback on

	local     string // the dialling side's pseudo address
	once      sync.Once
	done      chan struct{} // closed when the connection is closed or reset
	clientErr error         // what client-side streams report once done is closed
	serverErr error         // what server-side streams report once done is closed
	newErr    error         // what NewStream reports once done is closed

	// Pads a conn to 256 bytes, a size class whose objects start on a
	// cache line, and so do the hot fields above (TestConnHotFields).
	_ [32]byte
}

// takeWake returns an empty wake channel (cap 1): a spare one, or a new
// one. A reset of the connection sends every channel it made a token
// (wakeWaits), so that a wait on one need not also select on done. The
// channels are kept, spare or in use, until the connection is dropped: as
// many as its streams ever waited at once.
func (c *conn) takeWake() chan struct{} {
	c.wakeMu.Lock()
	defer c.wakeMu.Unlock()
	var ch chan struct{}
	if n := len(c.spare); n > 0 {
		ch = c.spare[n-1]
		c.spare[n-1] = nil
		c.spare = c.spare[:n-1]
	} else {
		ch = make(chan struct{}, 1)
		c.made = append(c.made, ch)
	}
	if c.woken {
		// A spare channel already holds the token wakeWaits sent it: a
		// blocking send here would hang, holding wakeMu.
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	return ch
}

// putWake keeps ch (nil: none), emptied, for takeWake. Whoever calls it
// guarantees that nobody else uses ch any more.
func (c *conn) putWake(ch chan struct{}) {
	if ch == nil {
		return
	}
	c.wakeMu.Lock()
	drain(ch) // a token nobody waited for
	c.spare = append(c.spare, ch)
	c.wakeMu.Unlock()
}

// wakeWaits sends a token to every wake channel of the connection, once
// done is closed: whoever waits on one wakes, and finds the connection
// gone.
func (c *conn) wakeWaits() {
	c.wakeMu.Lock()
	defer c.wakeMu.Unlock()
	c.woken = true
	for _, ch := range c.made {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func newConn(from *Host, l *listener, local string) *conn {
	cfg := &l.st.net.cfg
	return &conn{from: from, l: l, local: local, maxMsg: cfg.maxMessageSize, streamBuf: cfg.streamBuffer, spares: &l.st.spares, done: make(chan struct{})}
}

// NewStream opens a stream and queues it for the listener's Serve, with
// first (when not nil) already in its pipe to the server, so the server
// never waits for it (and is woken once). It blocks only while the accept
// queue is full. It fails with ErrRefused when the listener is closed,
// ErrClosed after Close, ErrReset after a crash, or ctx.Err(). A first
// message Send would refuse (too large) opens the stream and fails as
// Send.
func (c *conn) NewStream(ctx context.Context, first *transport.Message) (transport.Socket, error) {
	if first != nil {
		if s, err := c.open(ctx, first); err != errOpenTooLarge {
			return s, err
		}
	}
	s, err := c.open(ctx, nil)
	if err != nil || first == nil {
		return s, err
	}
	return s, s.Send(ctx, first)
}

// errOpenTooLarge: open's first message is over the size limit (Send
// reports it to the caller).
var errOpenTooLarge = errors.New("memory: first message too large")

// open opens a stream whose pipe to the server already holds first (when
// not nil: a copy the reader owns), and queues it for accept; see NewStream.
// It opens nothing and returns errOpenTooLarge when first is over the size
// limit.
func (c *conn) open(ctx context.Context, first *transport.Message) (transport.Socket, error) {
	if err := c.newStreamErr(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := newStream(c)
	if first != nil {
		if len(first.Body) > c.maxMsg {
			return nil, errOpenTooLarge // refused before it is copied
		}
		// Nobody else sees s yet: no lock, and no wait (the pipe is empty).
		m, size := c.copyOf(first, dirUp)
		if size > c.maxMsg {
			c.release(m, dirUp) // not queued after all
			return nil, errOpenTooLarge
		}
		s.up.q = append(s.up.q, m)
	}
	if err := c.l.push(ctx, s); err != nil {
		return nil, err
	}
	return &s.socks.client, nil
}

// newStreamErr reports why no stream can be opened now, or nil.
func (c *conn) newStreamErr() error {
	if c.broken.Load() {
		return c.newErr
	}
	if c.l.isClosed() {
		return fmt.Errorf("memory: new stream to %s: %w: listener closed", c.l.addr, transport.ErrRefused)
	}
	return nil
}

// RemoteAddr is the address that was dialled.
func (c *conn) RemoteAddr() string { return c.l.addr }

// Done returns a channel closed once the connection is closed or reset.
func (c *conn) Done() <-chan struct{} { return c.done }

// Close resets every stream of the connection: the server side of each
// fails with ErrReset, the client side with ErrClosed and ErrReset. It does
// not block. Idempotent.
func (c *conn) Close() error {
	c.l.st.forgetConn(c)
	e := &closeErrors{addr: c.l.addr, local: c.local}
	e.client.e, e.server.e, e.newStream.e = e, e, e
	e.server.side, e.newStream.side = closedServer, closedNewStream
	c.resetWith(&e.client, &e.server, &e.newStream)
	return nil
}

// closeErrors are what the streams of a closed connection report, in one
// allocation, their messages written only when asked for: a world's
// teardown closes every client's connections, whose errors nobody reads.
type closeErrors struct {
	addr, local               string // the dialled address, the dialling side's
	client, server, newStream closedError
}

// closedError is one of a closed connection's errors (closeErrors).
type closedError struct {
	e    *closeErrors
	side int // closedClient, closedServer, closedNewStream
}

// The sides of a closed connection's errors.
const (
	closedClient    = iota // a client-side stream: ErrClosed and ErrReset
	closedServer           // a server-side stream: ErrReset
	closedNewStream        // NewStream: ErrClosed
)

func (e *closedError) Error() string {
	switch e.side {
	case closedClient:
		return "memory: connection to " + e.e.addr + " closed: " + transport.ErrClosed.Error() + ", " + transport.ErrReset.Error()
	case closedServer:
		return "memory: connection from " + e.e.local + ": " + transport.ErrReset.Error() + " by peer"
	default:
		return "memory: new stream to " + e.e.addr + ": " + transport.ErrClosed.Error()
	}
}

func (e *closedError) Unwrap() []error {
	switch e.side {
	case closedClient:
		return []error{transport.ErrClosed, transport.ErrReset}
	case closedServer:
		return []error{transport.ErrReset}
	default:
		return []error{transport.ErrClosed}
	}
}

// reset breaks the connection with the given errors for each side.
func (c *conn) reset(clientErr, serverErr error) { c.resetWith(clientErr, serverErr, clientErr) }

func (c *conn) resetWith(clientErr, serverErr, newErr error) {
	first := false
	c.once.Do(func() {
		c.clientErr, c.serverErr, c.newErr = clientErr, serverErr, newErr
		c.broken.Store(true)
		close(c.done)
		first = true
	})
	if first {
		c.wakeWaits()
		c.notifyReset()
	}
}
