package faults

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/microsim/microsim/framework/transport"
)

// clientSocket is the dialling side of a stream: its requests go through
// the link faults as they are sent, its replies as they arrive.
type clientSocket struct {
	c     *clientConn
	under transport.Socket
	inj   *Injector

	closed atomic.Bool // Close was called (set under mu)
	// readMu is held by the delayed-reply reader while it judges and
	// copies a message the underlying socket lent it, and by closeUnder:
	// a Close from another goroutine (the delivery line's) must not end
	// that lease under it.
	readMu      sync.Mutex
	underClosed bool // closeUnder closed the underlying socket; guarded by readMu
	closeOnce   sync.Once
	// life ends with Close; a Recv merges it with its ctx so that Close
	// unblocks it even while delayed requests keep the underlying stream
	// open. Nil when the injector had no link fault when the stream opened.
	life context.Context
	kill context.CancelFunc

	mu         sync.Mutex
	closedCh   chan struct{} // closed by Close; made by the first wait on it (done)
	sendClosed bool          // CloseSend or Close was called
	out        *line         // delayed requests; nil until the first
	in         *inbound      // delayed replies; nil until the first
}

// newClientSocket wraps under, a stream of c. The socket comes from c's
// slab source (one allocation per slab.Size streams), and a stream with
// no link fault in effect when it opens makes nothing else: its wrapper
// costs the call no allocation of its own.
func newClientSocket(c *clientConn, under transport.Socket) *clientSocket {
	s := c.sockets.New()
	s.c, s.under, s.inj = c, under, c.t.inj
	if s.inj.links.Load() > 0 {
		s.life, s.kill = context.WithCancel(context.Background())
	}
	return s
}

// done returns a channel closed by Close, making it the first time: only
// a stream that waits for delayed messages needs one.
func (s *clientSocket) done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closedCh == nil {
		s.closedCh = make(chan struct{})
		if s.closed.Load() {
			close(s.closedCh)
		}
	}
	return s.closedCh
}

func (s *clientSocket) RemoteAddr() string { return s.under.RemoteAddr() }

func (s *clientSocket) errClosed() error {
	return fmt.Errorf("faults: stream with %s: %w", s.under.RemoteAddr(), transport.ErrClosed)
}

func (s *clientSocket) isClosed() bool { return s.closed.Load() }

// Send judges m and sends it now, queues it on the stream's delivery line
// (delayed or held), drops it (loss, black hole: Send succeeds) or resets
// the connection (ErrReset).
func (s *clientSocket) Send(ctx context.Context, m *transport.Message) error {
	if m == nil {
		return s.under.Send(ctx, m)
	}
	if _, err := s.sendable(ctx, m); err != nil {
		return err
	}
	return s.apply(ctx, m, s.inj.judgeLink(s.c.t.node, s.c.remote, Requests, m, s.c))
}

// sendable reports why m cannot be sent now (Send's checks before the link
// faults judge it), or nil; out is the delivery line, if any.
func (s *clientSocket) sendable(ctx context.Context, m *transport.Message) (*line, error) {
	if s.isClosed() {
		return nil, s.errClosed()
	}
	if err := s.c.failed(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	sendClosed, out := s.sendClosed, s.out
	s.mu.Unlock()
	if sendClosed {
		return nil, fmt.Errorf("faults: send to %s after CloseSend: %w", s.under.RemoteAddr(), transport.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if size, max := m.Size(), s.c.t.maxSize; size > max {
		return nil, fmt.Errorf("faults: send to %s: %w: %d bytes, limit %d", s.under.RemoteAddr(), transport.ErrMessageTooLarge, size, max)
	}
	return out, nil
}

// apply carries out the link faults' verdict v on m: it sends m now,
// queues it on the stream's delivery line (delayed or held), drops it or
// resets the connection.
func (s *clientSocket) apply(ctx context.Context, m *transport.Message, v verdict) error {
	s.mu.Lock()
	out := s.out
	s.mu.Unlock()
	switch {
	case v.reset != nil:
		s.c.reset(v.reset)
		return v.reset
	case v.drop:
		return nil
	case v.pass() && (out == nil || out.idle()):
		return s.under.Send(ctx, m)
	}
	if out == nil {
		s.mu.Lock()
		if s.out == nil {
			s.out = newLine(s)
		}
		out = s.out
		s.mu.Unlock()
	}
	return out.push(ctx, m.Clone(), time.Now().Add(v.delay), v.gates)
}

// Recv returns the next reply that the link faults let through, at its time.
func (s *clientSocket) Recv(ctx context.Context) (*transport.Message, error) {
	for {
		if s.isClosed() {
			return nil, s.errClosed()
		}
		if err := s.c.failed(); err != nil {
			return nil, err
		}
		s.mu.Lock()
		in := s.in
		s.mu.Unlock()
		if in != nil {
			return in.recv(ctx)
		}
		m, err := s.directRecv(ctx)
		if err != nil {
			return nil, err
		}
		// m is lent by the underlying socket, which a Close from another
		// goroutine may close: judge it (and copy it for a delay) under
		// readMu, as the delayed-reply reader does.
		s.readMu.Lock()
		if s.underClosed {
			s.readMu.Unlock()
			return nil, s.errClosed()
		}
		v := s.inj.judgeLink(s.c.remote, s.c.t.node, Replies, m, s.c)
		delayed := !v.pass() && !v.drop && v.reset == nil
		if delayed {
			m = m.Clone()
		}
		s.readMu.Unlock()
		switch {
		case v.reset != nil:
			s.c.reset(v.reset)
			return nil, v.reset
		case v.drop:
			continue
		case !delayed:
			return m, nil
		}
		// From here on a reader sees the replies arrive while this one waits.
		return s.startInbound(m, time.Now().Add(v.delay), v.gates).recv(ctx)
	}
}

// directRecv receives from the underlying socket, returning ErrClosed when
// Close came first.
func (s *clientSocket) directRecv(ctx context.Context) (*transport.Message, error) {
	rctx := ctx
	if s.life != nil {
		var cancel context.CancelFunc
		rctx, cancel = context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(s.life, cancel)
		defer stop()
	}
	m, err := s.under.Recv(rctx)
	if err != nil {
		if s.isClosed() {
			return nil, s.errClosed()
		}
		if rerr := s.c.failed(); rerr != nil {
			return nil, rerr
		}
		return nil, err
	}
	return m, nil
}

// CloseSend half-closes the stream, after the delayed requests if any.
func (s *clientSocket) CloseSend() error {
	s.mu.Lock()
	s.sendClosed = true
	out := s.out
	s.mu.Unlock()
	if out != nil && out.deferClose(closeSendAfter) {
		return nil
	}
	return s.under.CloseSend()
}

// Close ends this side at once for the caller; the underlying stream
// closes after the delayed requests, if any, are delivered.
func (s *clientSocket) Close() error {
	if out := s.endLocal(); out != nil && out.deferClose(closeAfter) {
		return nil
	}
	return s.closeUnder()
}

// closeUnder closes the underlying socket, which ends the lease of the
// message it lent last: not while the delayed-reply reader still copies
// one (readMu).
func (s *clientSocket) closeUnder() error {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	s.underClosed = true
	return s.under.Close()
}

// endLocal ends this side for the caller (Close's bookkeeping) and
// returns the delivery line, if any.
func (s *clientSocket) endLocal() *line {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed.Store(true)
		if s.closedCh != nil {
			close(s.closedCh)
		}
		s.mu.Unlock()
		if s.kill != nil {
			s.kill()
		}
	})
	s.mu.Lock()
	s.sendClosed = true
	out, in := s.out, s.in
	s.mu.Unlock()
	if in != nil {
		in.stop()
	}
	return out
}

// SendClose is Send then Close; in one step, the underlying socket's,
// when the link faults let m through untouched and no delayed request is
// ahead of it.
func (s *clientSocket) SendClose(ctx context.Context, m *transport.Message) error {
	if m == nil {
		return s.under.SendClose(ctx, m)
	}
	out, err := s.sendable(ctx, m)
	if err != nil {
		return err
	}
	v := s.inj.judgeLink(s.c.t.node, s.c.remote, Requests, m, s.c)
	if v.pass() && (out == nil || out.idle()) {
		if err := s.under.SendClose(ctx, m); err != nil {
			return err
		}
		s.endLocal()
		return nil
	}
	if err := s.apply(ctx, m, v); err != nil {
		return err
	}
	return s.Close()
}

// NotifyRecv is the underlying socket's: with link faults on the replies
// it reports a reply when it arrives, before the faults delay or drop it.
func (s *clientSocket) NotifyRecv(f func(error)) { s.under.NotifyRecv(f) }

// StopNotify is the underlying socket's.
func (s *clientSocket) StopNotify() bool { return s.under.StopNotify() }
