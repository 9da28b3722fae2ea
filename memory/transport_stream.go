package memory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/internal/ctxwake"
)

// stream is one stream of a conn: a pipe each way. Its state is in the
// pipes, guarded by their mutexes; a goroutine that has to wait takes
// (making it on first use) its pipe's wake channel, releases the lock and
// waits on that channel and its ctx. Every event that can end a wait (a
// reset of the connection included) sends a token to the wake channels it
// concerns, so no mutex is held across a wait.
//
// A stream is reused, its sockets never. Each use of a stream has a pair
// of sockets of its own (sockets), which the caller holds; once both are
// closed and nothing of either can still touch the stream, the stream
// goes back to its connection for the next NewStream (recycle), and its
// generation (gen) moves on. A socket remembers the generation it was
// made for, and every method that takes a pipe's lock checks it there: a
// socket used after Close, however much later, finds itself closed and
// never acts on the stream's next use. What runs outside the locks is the
// closed check, which a closed socket fails before it touches the stream,
// and Send's copy of the message, which the socket's count of Sends keeps
// the stream from being recycled under.
type stream struct {
	conn     *conn
	socks    *sockets // the current use's sockets
	up, down pipe     // up: client to server; down: server to client

	refusedFlag atomic.Bool // the listener closed before accepting the stream
	// ends counts the sockets of this use closed: at 2 the stream is
	// recycled.
	ends      atomic.Int32
	refuseErr error // written before refusedFlag is set

	// gen counts the stream's uses: written by recycle under both pipes'
	// locks, read under either.
	gen uint64
	// watched is set once a NotifyRecv registered the stream with its
	// connection (conn.watch), which keeps it registered until the stream
	// is dropped.
	watched atomic.Bool
	// notes are the host pause layer's notification state of the client
	// and the server side (host_pause_notify.go), kept across uses.
	notes [2]atomic.Pointer[pauseNotify]

	// Pads a stream to 256 bytes, four cache lines, on which each of a
	// slab's streams starts (TestStreamSize).
	_ [8]byte
}

// sockets are the two sockets of one use of a stream, made together.
type sockets struct {
	client, server socket
}

// pipe is one direction of a stream: a bounded queue of copied messages
// (at most its connection's streamBuffer).
type pipe struct {
	mu      sync.Mutex
	head    int32 // q[head:] are queued
	waiters int32 // goroutines in wait, which may still use the channels
	eof     bool  // the writer sent CloseSend or Close: nothing more will come
	rclosed bool  // the reader closed its socket: it reads nothing more
	q       []*transport.Message

	recvWake chan struct{} // cap 1: the reader waits for a message or an end
	sendWake chan struct{} // cap 1: the writer waits for room or an end

	onRecv func(error)        // the reader's NotifyRecv callback (transport_notify.go)
	last   *transport.Message // what the reader's last Recv returned: lent until the next Recv or Close (transport_lease.go)
	q0     [1]*transport.Message
}

// wake sends a token to ch (cap 1) if it exists. Called under the pipe's lock.
func wake(ch chan struct{}) {
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// drain takes the token out of ch (cap 1) if it holds one and exists.
func drain(ch chan struct{}) {
	if ch != nil {
		select {
		case <-ch:
		default:
		}
	}
}

// wakeAll wakes both ends of p. Called under p.mu.
func (p *pipe) wakeAll() {
	wake(p.recvWake)
	wake(p.sendWake)
}

// queued is how many messages wait in p. Called under p.mu.
func (p *pipe) queued() int { return len(p.q) - int(p.head) }

// newStream returns a stream of c with a new pair of sockets: the stream
// the connection's last use recycled (conn.spareStream), or else a new one.
// Streams and sockets come from the network's slab sources
// (transportState.streams and socks: one allocation per slab.Size).
func newStream(c *conn) *stream {
	s := c.spareStream.Swap(nil)
	if s == nil {
		s = c.l.st.streams.New()
		s.conn = c
		s.up.q, s.down.q = s.up.q0[:0], s.down.q0[:0]
	}
	ss := c.l.st.socks.New()
	ss.client = socket{st: s, gen: s.gen}
	ss.server = socket{st: s, gen: s.gen, server: true}
	s.socks = ss
	return s
}

// refuse ends a stream no server accepted, unless its connection already
// ended it. It does not block.
func (s *stream) refuse(addr string) {
	if s.conn.broken.Load() {
		return
	}
	s.up.mu.Lock()
	first := !s.refusedFlag.Load()
	if first {
		s.refuseErr = fmt.Errorf("memory: stream to %s: %w: the listener closed before accepting it", addr, transport.ErrRefused)
		s.refusedFlag.Store(true)
	}
	s.up.mu.Unlock()
	if !first {
		return
	}
	for _, p := range []*pipe{&s.up, &s.down} {
		p.mu.Lock()
		p.wakeAll()
		p.notifyLocked(s.refuseErr)
		p.mu.Unlock()
	}
}

// refused returns the refusal error, or nil.
func (s *stream) refused() error {
	if s.refusedFlag.Load() {
		return s.refuseErr
	}
	return nil
}

// socket is one end of one use of a stream: a transport.Socket.
type socket struct {
	st *stream
	// deco is the host pause decorator of the socket (host_pause_notify.go),
	// so that it costs no allocation of its own.
	deco pauseNotifySocket

	gen    uint64 // the stream's use this socket belongs to (stream.gen)
	state  atomic.Int32
	server bool // the accepting side
}

// A socket's state: closedBit once Close was called, and below it the
// Sends under way (in their copy, outside the pipe's lock, where the
// stream must not be recycled under them). A Send counts itself and sees
// whether the socket is closed in one step.
const (
	closedBit   = 1 << 30
	sendingMask = closedBit - 1
)

// isClosed reports whether Close was called.
func (s *socket) isClosed() bool { return s.state.Load()&closedBit != 0 }

// stale reports whether the stream has gone on to another use since the
// socket was made: the socket was closed, and so was its peer. Called
// under either of the stream's pipe locks.
func (s *socket) stale() bool { return s.st.gen != s.gen }

// network is the network of the socket's hosts.
func (s *socket) network() *Network { return s.st.conn.l.st.net }

// host is the host the socket belongs to: the listener's on the server
// side, the dialler's on the client side.
func (s *socket) host() *Host {
	if s.server {
		return s.st.conn.l.host
	}
	return s.st.conn.from
}

// The directions of a stream's pipes, as indexes.
const (
	dirUp   = 0 // client to server
	dirDown = 1 // server to client
)

// inDir is the direction of the pipe the socket reads.
func (s *socket) inDir() int {
	if s.server {
		return dirUp
	}
	return dirDown
}

// outDir is the direction of the pipe the socket writes.
func (s *socket) outDir() int { return 1 - s.inDir() }

// in is the pipe the socket reads.
func (s *socket) in() *pipe {
	if s.server {
		return &s.st.up
	}
	return &s.st.down
}

// out is the pipe the socket writes.
func (s *socket) out() *pipe {
	if s.server {
		return &s.st.down
	}
	return &s.st.up
}

var errNilMessage = errors.New("memory: send of a nil message")

// Send copies m into the stream. It blocks while the peer's buffer is full.
// It fails with ErrMessageTooLarge (the stream stays usable), ErrClosed
// after Close or CloseSend on this side or Close on the peer's, ErrRefused
// or ErrReset when the stream ended, or ctx.Err().
func (s *socket) Send(ctx context.Context, m *transport.Message) error {
	if m == nil {
		return errNilMessage
	}
	// Counted as it checks for a Close: a Send that finds the socket open
	// keeps the stream from being recycled until it returns, one that
	// finds it closed touches nothing of the stream.
	defer s.state.Add(-1)
	if s.state.Add(1)&closedBit != 0 {
		return s.errClosed()
	}
	// The copy counts the size as it goes (one pass over the header); a
	// body over the limit on its own is refused before it is copied.
	cn, p, dir := s.st.conn, s.out(), s.outDir()
	if len(m.Body) > cn.maxMsg {
		return s.errTooLarge(m.Size())
	}
	c, size := cn.copyOf(m, dir)
	if size > cn.maxMsg {
		cn.release(c, dir) // the copy, not queued after all
		return s.errTooLarge(size)
	}
	if err := s.failure(); err != nil {
		cn.release(c, dir)
		return err
	}
	if err := ctx.Err(); err != nil {
		cn.release(c, dir)
		return err
	}
	p.mu.Lock()
	for {
		if err := s.sendErrLocked(); err != nil {
			p.mu.Unlock()
			cn.release(c, dir)
			return err
		}
		if p.queued() < cn.streamBuf {
			break
		}
		if err := p.wait(ctx, &p.sendWake, s.st.conn); err != nil {
			p.mu.Unlock()
			cn.release(c, dir)
			return err
		}
	}
	p.q = append(p.q, c)
	wake(p.recvWake)
	p.notifyLocked(nil)
	p.mu.Unlock()
	return nil
}

func (s *socket) errTooLarge(size int) error {
	return fmt.Errorf("memory: send to %s: %w: %d bytes, limit %d", s.RemoteAddr(), transport.ErrMessageTooLarge, size, s.st.conn.maxMsg)
}

// sendErrLocked reports why Send cannot go on, or nil. Called under s.out().mu.
func (s *socket) sendErrLocked() error {
	if err := s.failure(); err != nil {
		return err
	}
	out := s.out()
	if out.eof {
		return fmt.Errorf("memory: send to %s after CloseSend: %w", s.RemoteAddr(), transport.ErrClosed)
	}
	if out.rclosed {
		return fmt.Errorf("memory: send to %s: %w: the peer closed the stream", s.RemoteAddr(), transport.ErrClosed)
	}
	return nil
}

// Recv returns the next message. It blocks until one arrives, the peer ends
// its side (io.EOF, after every message it sent), the stream fails
// (ErrClosed after Close on this side, ErrRefused, ErrReset) or ctx is done.
func (s *socket) Recv(ctx context.Context) (*transport.Message, error) {
	if err := s.failure(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := s.in()
	p.mu.Lock()
	for {
		if err := s.failure(); err != nil {
			p.mu.Unlock()
			return nil, err
		}
		if int(p.head) < len(p.q) {
			m := p.q[p.head]
			p.q[p.head] = nil
			p.lendLocked(m, s.st.conn, s.inDir())
			if p.head++; int(p.head) == len(p.q) {
				p.q, p.head = p.q[:0], 0
			}
			wake(p.sendWake)
			p.mu.Unlock()
			return m, nil
		}
		if p.eof {
			p.mu.Unlock()
			return nil, io.EOF
		}
		if err := p.wait(ctx, &p.recvWake, s.st.conn); err != nil {
			p.mu.Unlock()
			return nil, err
		}
	}
}

// wait releases p.mu, waits for a token on *wake (one of p's wake
// channels, taken from c's spares the first time) or the end of ctx, and
// takes p.mu again. It returns ctx.Err() when ctx ended. A token may come
// when nothing changed (one a ctx sent as it ended, after the wait it
// woke had returned: ctxwake.Wait): every caller loops and looks again. A reset of the
// connection sends the wake channel a token (conn.wakeWaits), so the wait
// needs no case for it: the connection's done channel, which every stream
// of the connection would select on, is not a lock they contend for.
// Called under p.mu.
func (p *pipe) wait(ctx context.Context, wake *chan struct{}, c *conn) error {
	if *wake == nil {
		*wake = c.takeWake()
	}
	ch := *wake
	p.waiters++
	p.mu.Unlock()
	err := ctxwake.Wait(ctx, ch)
	p.mu.Lock()
	p.waiters--
	return err
}

// recycle is called once both sockets of the stream's use are closed. It
// gives the stream back to the connection, for its next NewStream, when
// nothing of either socket can touch it any more: no goroutine waits in a
// pipe and no Send is copying (socket.state). Every Send and Recv of a
// closed socket fails before it touches the stream, and every other
// method checks the generation under the pipe's lock, which this changes
// under both locks. What was sent and never read goes back as a read
// message's lease does, and the stream keeps its wake channels. A stream
// still in use somewhere, or one for which the connection has no room
// (its spare stream is another), is left to the GC, and gives the
// connection the wake channels nobody still in a wait holds (waiters). It
// does not block.
func (s *stream) recycle() {
	up, down := &s.up, &s.down
	up.mu.Lock()
	down.mu.Lock()
	quiet := up.waiters == 0 && down.waiters == 0 &&
		s.socks.client.state.Load()&sendingMask == 0 && s.socks.server.state.Load()&sendingMask == 0
	if quiet {
		s.gen++
		up.resetLocked(s.conn, dirUp)
		down.resetLocked(s.conn, dirDown)
		s.refusedFlag.Store(false)
		s.refuseErr = nil
		s.ends.Store(0)
		s.socks = nil
	}
	// (Once in the slot, the stream may be taken at once; its next use
	// waits for these locks before it touches the pipes.)
	dropped := !quiet || !s.conn.spareStream.CompareAndSwap(nil, s)
	if dropped {
		for _, p := range [2]*pipe{up, down} {
			if p.waiters == 0 {
				p.putWakes(s.conn)
			}
		}
	}
	down.mu.Unlock()
	up.mu.Unlock()
	if dropped && s.watched.Load() {
		s.conn.unwatch(s) // both sockets closed: no callback is armed
	}
}

// putWakes gives p's wake channels back to c.
func (p *pipe) putWakes(c *conn) {
	c.putWake(p.recvWake)
	c.putWake(p.sendWake)
	p.recvWake, p.sendWake = nil, nil
}

// resetLocked empties p for the stream's next use, giving back what it
// still queues (sent the way dir and never read) and what its reader
// last read. Called under p.mu by recycle.
func (p *pipe) resetLocked(c *conn, dir int) {
	p.reclaimLocked(c, dir)
	for i := int(p.head); i < len(p.q); i++ {
		p.last = p.q[i]
		p.reclaimLocked(c, dir)
	}
	clear(p.q0[:])
	p.q, p.head = p.q0[:0], 0
	// The wake channels stay, emptied of a token nobody waited for: the
	// next use's waits take no channel from the connection's spares.
	drain(p.recvWake)
	drain(p.sendWake)
	p.eof, p.rclosed = false, false
	p.onRecv = nil
}

// CloseSend tells the peer no more messages will be sent; its Recv returns
// io.EOF once it has the earlier ones. It does not block. Idempotent.
func (s *socket) CloseSend() error {
	if !s.isClosed() { // Close has ended the pipe already
		s.out().end(s)
	}
	return nil
}

// end marks the writer's end of p, the pipe s writes, and wakes both ends.
// Idempotent; it does nothing once the stream went on to another use.
func (p *pipe) end(s *socket) {
	p.mu.Lock()
	if !p.eof && !s.stale() {
		p.eof = true
		p.wakeAll()
		if p.queued() > 0 {
			p.notifyLocked(nil)
		} else {
			p.notifyLocked(io.EOF)
		}
	}
	p.mu.Unlock()
}

// RemoteAddr is the listener's address on the client side and the dialling
// host's pseudo address on the server side.
func (s *socket) RemoteAddr() string {
	if s.server {
		return s.st.conn.local
	}
	return s.st.conn.l.addr
}

// Close ends this side: pending and later Send and Recv here fail with
// ErrClosed, the peer receives what was sent before and then io.EOF, and
// the peer's Send fails with ErrClosed. It does not block. Idempotent.
func (s *socket) Close() error {
	if s.state.Or(closedBit)&closedBit != 0 {
		return nil
	}
	in := s.in()
	in.mu.Lock()
	in.onRecv = nil // a local Close is no event for NotifyRecv (StopNotify)
	in.rclosed = true
	in.reclaimLocked(s.st.conn, s.inDir()) // the lease of the last message ends
	in.wakeAll()                           // our pending Recv, the peer's pending Send
	in.mu.Unlock()
	s.out().end(s) // our pending Send; the peer's Recv drains, then io.EOF
	if s.st.ends.Add(1) == 2 {
		s.st.recycle()
	}
	return nil
}

// errClosed is the error of a call on a closed socket.
func (s *socket) errClosed() error {
	return fmt.Errorf("memory: stream with %s: %w", s.RemoteAddr(), transport.ErrClosed)
}

// failure reports why the socket can carry nothing more, or nil. A local
// Close wins over a refusal, which wins over a reset.
func (s *socket) failure() error {
	if s.isClosed() {
		return s.errClosed()
	}
	if err := s.st.refused(); err != nil {
		return err
	}
	if c := s.st.conn; c.broken.Load() {
		if s.server {
			return c.serverErr
		}
		return c.clientErr
	}
	return nil
}
