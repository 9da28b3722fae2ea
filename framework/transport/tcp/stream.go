package tcp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/internal/ctxwake"
)

// stream is one Socket, client or server side.
type stream struct {
	c  *conn
	id atomic.Uint32 // set before the stream is shared

	wclosed     bool // guarded by c.wmu: no more DATA or CLOSE_SEND may be queued
	closeQueued bool // guarded by c.wmu: the CLOSE frame was queued (SendClose)

	mu          sync.Mutex
	q           []*rmsg // received, not yet returned by Recv: q[qhead:]
	qhead       int
	recvErr     error // what Recv returns once q is empty
	sendErr     error // what Send returns
	closed      bool  // Close was called
	sentEnd     bool  // CloseSend or Close was called
	peerEnd     bool  // the peer sent CLOSE_SEND or CLOSE
	peerGone    bool  // the peer sent CLOSE: it reads no more
	finished    bool  // counted out of the connection's open streams
	credit      int   // DATA frames we may still send
	unacked     int   // messages Recv returned since the last WINDOW frame
	recvWait    bool
	sendWait    bool
	wakePending bool          // queued in c.wakes (reader goroutine)
	notify      chan struct{} // cap 1: wakes Recv; set while it waits (wait)
	creditCh    chan struct{} // cap 1: wakes Send; set while it waits (wait)
	onRecv      func(error)   // NotifyRecv's callback, until it is called or stopped
	lent        *rmsg         // what the last Recv returned: lent until the next Recv or Close
	q0          [1]*rmsg

	// r0 is the stream's first received message, held inline (the reader
	// goroutine fills it; r0used is the reader's alone).
	r0     rmsg
	r0used bool
}

var _ transport.Socket = (*stream)(nil)

func newStream(c *conn, id uint32) *stream {
	s := &stream{c: c, credit: c.peerWindow}
	s.q = s.q0[:0]
	s.id.Store(id)
	return s
}

// errPeerClosed is what Send returns once the peer closed the stream.
var errPeerClosed = fmt.Errorf("tcp: stream closed by the peer: %w", transport.ErrClosed)

func (s *stream) closedErr() error {
	return fmt.Errorf("tcp: stream: %w", transport.ErrClosed)
}

// sendClosedErr is what a send after CloseSend or Close returns.
func (s *stream) sendClosedErr() error {
	return fmt.Errorf("tcp: send on a stream closed for sending: %w", transport.ErrClosed)
}

// Send queues m for the writer and returns; m may be reused at once. It
// blocks while the peer's window for this stream is used up (flow control)
// or the connection's write queue is full, until ctx is done. A message over
// the size limit fails at once with ErrMessageTooLarge, the stream unharmed.
func (s *stream) Send(ctx context.Context, m *transport.Message) error {
	return s.send(ctx, m, false)
}

// SendClose implements transport.Socket: the DATA frame and the CLOSE
// behind it are queued together, so they leave in one write. When the
// message cannot be sent the stream stays open.
func (s *stream) SendClose(ctx context.Context, m *transport.Message) error {
	if err := s.send(ctx, m, true); err != nil {
		return err
	}
	return s.Close() // its CLOSE frame is already queued
}

// send is Send; with closeAfter the stream's CLOSE frame is queued right
// behind the message.
func (s *stream) send(ctx context.Context, m *transport.Message, closeAfter bool) error {
	if m == nil {
		return errors.New("tcp: Send of a nil message")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c := s.c
	plen, size := encodedSize(m)
	if size > c.sendLimit {
		return fmt.Errorf("tcp: message of %d bytes exceeds the limit of %d bytes: %w", size, c.sendLimit, transport.ErrMessageTooLarge)
	}
	if limit := maxFramePayload(c.sendLimit); plen > limit {
		return fmt.Errorf("tcp: message of %d bytes encodes to %d bytes, above the frame limit of %d bytes: %w", size, plen, limit, transport.ErrMessageTooLarge)
	}
	s.mu.Lock()
	for {
		if s.closed {
			s.mu.Unlock()
			return s.closedErr()
		}
		if s.sentEnd {
			s.mu.Unlock()
			return s.sendClosedErr()
		}
		if s.sendErr != nil {
			err := s.sendErr
			s.mu.Unlock()
			return err
		}
		if c.isDone() {
			s.mu.Unlock()
			return c.streamErr(s)
		}
		if s.credit > 0 {
			s.credit--
			break
		}
		if err := s.wait(ctx, &s.sendWait, &s.creditCh); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	s.mu.Unlock()
	err := c.enqueueData(ctx, s, m, plen, closeAfter)
	if err != nil {
		s.mu.Lock()
		s.credit++
		s.mu.Unlock()
	}
	return err
}

// Recv returns the next message. It blocks until one arrives, the peer ends
// the stream (io.EOF, after every message it sent), the stream fails
// (ErrReset, ErrRefused), it is closed locally (ErrClosed) or ctx is done.
func (s *stream) Recv(ctx context.Context) (*transport.Message, error) {
	c := s.c
	s.mu.Lock()
	for {
		if s.closed {
			s.mu.Unlock()
			return nil, s.closedErr()
		}
		if s.qhead < len(s.q) {
			r := s.q[s.qhead]
			s.q[s.qhead] = nil
			s.reclaimLocked() // the lease of the message before ends
			s.lent = r
			if s.qhead++; s.qhead == len(s.q) {
				s.q, s.qhead = s.q[:0], 0
			}
			grant := 0
			if !s.peerEnd && !s.finished {
				if s.unacked++; s.unacked >= max(1, c.o.window/2) {
					grant, s.unacked = s.unacked, 0
				}
			}
			s.mu.Unlock()
			if grant > 0 {
				var p [4]byte
				binary.BigEndian.PutUint32(p[:], uint32(grant))
				c.enqueueControl(frameWindow, s.id.Load(), p[:])
			}
			return &r.m, nil
		}
		if s.recvErr != nil {
			err := s.recvErr
			s.mu.Unlock()
			return nil, err
		}
		if c.isDone() {
			s.mu.Unlock()
			return nil, c.streamErr(s)
		}
		if err := ctx.Err(); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		if !c.server && c.tryLead(ctx, s) {
			s.mu.Unlock()
			c.lead() // reads until s has news, ctx is done or c ends
			s.mu.Lock()
			continue
		}
		if err := s.wait(ctx, &s.recvWait, &s.notify); err != nil {
			s.mu.Unlock()
			return nil, err
		}
	}
}

// wait blocks Recv (waiting and ch are recvWait and notify) or Send
// (sendWait and creditCh) until wakeLocked signals it or ctx is done.
// Called under s.mu, which it releases while it blocks and holds again
// when it returns. The channel is borrowed from the transport for the
// wait: wakeLocked sends only while *waiting is set, and clears it first,
// both under s.mu, and a ctx that wakes the channel as it ends
// (ctxwake.Waker) sends nothing once ctxwake.Wait returned; so once wait
// has cleared *waiting and drained the channel nothing can reach the
// channel any more and it goes back.
func (s *stream) wait(ctx context.Context, waiting *bool, ch *chan struct{}) error {
	if s.c.server {
		s.c.takeOverInline()
	} else {
		s.c.ensureReader()
	}
	pool := &s.c.t.waitChans
	c, _ := pool.Get().(chan struct{})
	if c == nil {
		c = make(chan struct{}, 1)
	}
	*ch, *waiting = c, true
	s.mu.Unlock()
	err := ctxwake.Wait(ctx, c)
	s.mu.Lock()
	*ch, *waiting = nil, false
	select {
	case <-c: // sent after ctx was done
	default:
	}
	pool.Put(c)
	return err
}

// CloseSend tells the peer no more messages follow: its Recv returns io.EOF
// once it has the messages sent before. It does not block. Idempotent; it
// returns nil even when the stream or connection has ended.
func (s *stream) CloseSend() error {
	s.mu.Lock()
	if s.closed || s.sentEnd || s.sendErr != nil {
		s.mu.Unlock()
		return nil
	}
	s.sentEnd = true
	if s.sendWait { // a Send waiting for credit fails now
		s.sendWait = false
		select {
		case s.creditCh <- struct{}{}:
		default:
		}
	}
	s.mu.Unlock()
	s.c.enqueueCloseSend(s)
	s.mu.Lock()
	fin := s.peerEnd && s.markFinished()
	s.mu.Unlock()
	if fin {
		s.c.streamDone(s)
	}
	return nil
}

// Close ends this side of the stream: what was sent is still delivered,
// then the peer sees io.EOF and its Send fails; pending and later Send and
// Recv here fail with ErrClosed. It does not block. Idempotent.
func (s *stream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.sentEnd = true
	s.onRecv = nil                        // a local Close is no event for NotifyRecv
	s.reclaimLocked()                     // the lease of the last message ends
	for i := s.qhead; i < len(s.q); i++ { // messages nobody will receive
		s.c.t.msgs.recycle(s.q[i], s.q[i] == &s.r0)
		s.q[i] = nil
	}
	s.q, s.qhead = s.q[:0], 0
	notify := !s.finished && !s.peerGone
	fin := s.markFinished()
	s.wakeLocked()
	s.mu.Unlock()
	if notify {
		s.c.closeStream(s, frameClose, nil)
	}
	if fin {
		s.c.streamDone(s)
	}
	return nil
}

// RemoteAddr returns the peer's address: the dialled address on the client
// side, the client's host:port on the server side.
func (s *stream) RemoteAddr() string { return s.c.remote }

// markFinished marks s finished and reports whether it was not already.
// Called under s.mu; the caller then calls c.streamDone outside it.
func (s *stream) markFinished() bool {
	if s.finished {
		return false
	}
	s.finished = true
	return true
}

// wakeLocked wakes a pending Recv and Send. Called under s.mu.
func (s *stream) wakeLocked() {
	if s.recvWait {
		s.recvWait = false
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
	if s.sendWait {
		s.sendWait = false
		select {
		case s.creditCh <- struct{}{}:
		default:
		}
	}
}

// newRmsg returns where the reader goroutine decodes the next message of
// s: the inline r0 the first time, a pooled rmsg after. Called by the
// reader goroutine.
func (s *stream) newRmsg() *rmsg {
	if !s.r0used {
		s.r0used = true
		return &s.r0
	}
	return s.c.t.msgs.getRmsg()
}

// reclaimLocked takes back the message the last Recv returned, whose
// lease ended, for later messages on the transport's connections. Called
// under s.mu.
func (s *stream) reclaimLocked() {
	if r := s.lent; r != nil {
		s.lent = nil
		s.c.t.msgs.recycle(r, r == &s.r0)
	}
}

// deliver queues a received message; called by the reader goroutine.
func (s *stream) deliver(m *rmsg) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.peerEnd {
		return protoErr("DATA frame on stream %d after its CLOSE_SEND", s.id.Load())
	}
	if len(s.q)-s.qhead >= s.c.o.window {
		return protoErr("stream %d overflowed its window of %d messages", s.id.Load(), s.c.o.window)
	}
	s.q = append(s.q, m)
	if s.recvWait {
		s.c.wakeLater(s)
	}
	s.notifyLocked(nil)
	return nil
}

// peerEnded handles CLOSE_SEND (gone false) and CLOSE (gone true).
func (s *stream) peerEnded(gone bool) {
	s.mu.Lock()
	s.peerEnd = true
	if s.recvErr == nil {
		s.recvErr = io.EOF
	}
	fin := false
	if gone {
		s.peerGone = true
		if s.sendErr == nil {
			s.sendErr = errPeerClosed
		}
		fin = s.markFinished()
	} else if s.sentEnd {
		fin = s.markFinished()
	}
	if s.recvWait || s.sendWait {
		s.c.wakeLater(s)
	}
	s.notifyLocked(io.EOF)
	s.mu.Unlock()
	if fin {
		s.c.streamDone(s)
	}
}

// fail ends both directions of s with err (a RESET, a GOAWAY). Messages
// already received are still returned first.
func (s *stream) fail(err error) {
	s.mu.Lock()
	if s.recvErr == nil {
		s.recvErr = err
	}
	if s.sendErr == nil {
		s.sendErr = err
	}
	fin := s.markFinished()
	s.wakeLocked()
	s.notifyLocked(s.recvErr)
	s.mu.Unlock()
	if fin {
		s.c.streamDone(s)
	}
}

// addCredit handles a WINDOW frame.
func (s *stream) addCredit(n uint32) {
	s.mu.Lock()
	s.credit = int(min(int64(s.credit)+int64(n), 1<<31-1))
	if s.sendWait {
		s.c.wakeLater(s)
	}
	s.mu.Unlock()
}

// refuse ends a stream no server accepted: the client sees ErrRefused.
func (s *stream) refuse() {
	s.mu.Lock()
	s.closed = true
	fin := s.markFinished()
	s.mu.Unlock()
	s.c.closeStream(s, frameReset, []byte{resetRefused})
	if fin {
		s.c.streamDone(s)
	}
}

// NotifyRecv implements transport.Socket: f is called, under the
// stream's lock, by the reader goroutine when a DATA, CLOSE_SEND, CLOSE or
// RESET frame arrives for the stream or the connection ends; at once when
// Recv already would not block. It does nothing after a local Close.
func (s *stream) NotifyRecv(f func(error)) {
	c := s.c
	var connErr error
	if c.isDone() {
		connErr = c.streamErr(s)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.onRecv = f
	if !c.server {
		c.ensureReader()
	}
	switch {
	case s.qhead < len(s.q):
		s.notifyLocked(nil)
	case s.recvErr != nil:
		s.notifyLocked(s.recvErr)
	case connErr != nil:
		s.notifyLocked(connErr)
	}
}

// StopNotify implements transport.Socket.
func (s *stream) StopNotify() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	stopped := s.onRecv != nil
	s.onRecv = nil
	return stopped
}

// notifyLocked calls and drops the NotifyRecv callback, if any. Called
// under s.mu.
func (s *stream) notifyLocked(err error) {
	if f := s.onRecv; f != nil {
		s.onRecv = nil
		f(err)
	}
}
