package faults

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/transport"
)

// clientSocket is the dialling side of a stream: its requests go through
// the link faults as they are sent, its replies as they arrive.
type clientSocket struct {
	c     *clientConn
	under transport.Socket
	inj   *Injector

	closed    chan struct{} // closed by Close
	closeOnce sync.Once
	// life ends with Close; a Recv merges it with its ctx so that Close
	// unblocks it even while delayed requests keep the underlying stream
	// open. Nil when the injector had no link fault when the stream opened.
	life context.Context
	kill context.CancelFunc

	mu         sync.Mutex
	sendClosed bool     // CloseSend or Close was called
	out        *line    // delayed requests; nil until the first
	in         *inbound // delayed replies; nil until the first
}

func newClientSocket(c *clientConn, under transport.Socket) *clientSocket {
	s := &clientSocket{c: c, under: under, inj: c.t.inj, closed: make(chan struct{})}
	if s.inj.links.Load() > 0 {
		s.life, s.kill = context.WithCancel(context.Background())
	}
	return s
}

func (s *clientSocket) RemoteAddr() string { return s.under.RemoteAddr() }

func (s *clientSocket) errClosed() error {
	return fmt.Errorf("faults: stream with %s: %w", s.under.RemoteAddr(), transport.ErrClosed)
}

func (s *clientSocket) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// Send judges m and sends it now, queues it on the stream's delivery line
// (delayed or held), drops it (loss, black hole: Send succeeds) or resets
// the connection (ErrReset).
func (s *clientSocket) Send(ctx context.Context, m *transport.Message) error {
	if m == nil {
		return s.under.Send(ctx, m)
	}
	if s.isClosed() {
		return s.errClosed()
	}
	if err := s.c.failed(); err != nil {
		return err
	}
	s.mu.Lock()
	sendClosed, out := s.sendClosed, s.out
	s.mu.Unlock()
	if sendClosed {
		return fmt.Errorf("faults: send to %s after CloseSend: %w", s.under.RemoteAddr(), transport.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if size, max := m.Size(), s.c.t.maxSize; size > max {
		return fmt.Errorf("faults: send to %s: %w: %d bytes, limit %d", s.under.RemoteAddr(), transport.ErrMessageTooLarge, size, max)
	}
	v := s.inj.judgeLink(s.c.t.node, s.c.remote, Requests, m, s.c)
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
		v := s.inj.judgeLink(s.c.remote, s.c.t.node, Replies, m, s.c)
		switch {
		case v.reset != nil:
			s.c.reset(v.reset)
			return nil, v.reset
		case v.drop:
			continue
		case v.pass():
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
	s.closeOnce.Do(func() {
		close(s.closed)
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
	if out != nil && out.deferClose(closeAfter) {
		return nil
	}
	return s.under.Close()
}
