package memory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/microsim/microsim/framework/transport"
)

// stream is one stream of a conn: a pipe each way and its two ends.
type stream struct {
	conn           *conn
	client, server *socket

	refuseOnce sync.Once
	refused    chan struct{} // closed when the listener closed before accepting the stream
	refuseErr  error         // written before refused is closed
}

// pipe is one direction of a stream. Only its writer closes eof.
type pipe struct {
	ch   chan *transport.Message
	once sync.Once
	eof  chan struct{} // closed by CloseSend or Close: nothing more will be sent
}

func newPipe(n int) *pipe {
	return &pipe{ch: make(chan *transport.Message, n), eof: make(chan struct{})}
}

func (p *pipe) closeSend() { p.once.Do(func() { close(p.eof) }) }

func newStream(c *conn) *stream {
	cfg := c.l.st.net.cfg
	up, down := newPipe(cfg.streamBuffer), newPipe(cfg.streamBuffer)
	s := &stream{conn: c, refused: make(chan struct{})}
	s.client = &socket{st: s, remote: c.l.addr, max: cfg.maxMessageSize, in: down, out: up, closed: make(chan struct{})}
	s.server = &socket{st: s, server: true, remote: c.local, max: cfg.maxMessageSize, in: up, out: down, closed: make(chan struct{})}
	s.client.peer, s.server.peer = s.server, s.client
	return s
}

// refuse ends a stream no server accepted, unless its connection already
// ended it. It does not block.
func (s *stream) refuse(addr string) {
	select {
	case <-s.conn.done:
		return
	default:
	}
	s.refuseOnce.Do(func() {
		s.refuseErr = fmt.Errorf("memory: stream to %s: %w: the listener closed before accepting it", addr, transport.ErrRefused)
		close(s.refused)
	})
}

// socket is one end of a stream: a transport.Socket.
type socket struct {
	st      *stream
	server  bool
	remote  string
	max     int
	in, out *pipe
	peer    *socket

	once   sync.Once
	closed chan struct{} // closed by Close
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
	if size := m.Size(); size > s.max {
		return fmt.Errorf("memory: send to %s: %w: %d bytes, limit %d", s.remote, transport.ErrMessageTooLarge, size, s.max)
	}
	if err := s.sendErr(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c := m.Clone()
	select {
	case s.out.ch <- c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
	case <-s.out.eof:
	case <-s.peer.closed:
	case <-s.st.refused:
	case <-s.st.conn.done:
	}
	return s.sendErr()
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
	select {
	case m := <-s.in.ch:
		return m, nil
	case <-s.in.eof:
		// The peer is done, but what it sent before is still owed to us.
		select {
		case m := <-s.in.ch:
			return m, nil
		default:
			return nil, io.EOF
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.closed:
	case <-s.st.refused:
	case <-s.st.conn.done:
	}
	return nil, s.failure()
}

// CloseSend tells the peer no more messages will be sent; its Recv returns
// io.EOF once it has the earlier ones. It does not block. Idempotent.
func (s *socket) CloseSend() error {
	s.out.closeSend()
	return nil
}

// RemoteAddr is the listener's address on the client side and the dialling
// host's pseudo address on the server side.
func (s *socket) RemoteAddr() string { return s.remote }

// Close ends this side: pending and later Send and Recv here fail with
// ErrClosed, the peer receives what was sent before and then io.EOF, and
// the peer's Send fails with ErrClosed. It does not block. Idempotent.
func (s *socket) Close() error {
	s.once.Do(func() { close(s.closed) })
	s.out.closeSend()
	return nil
}

// failure reports why the socket can carry nothing more, or nil. A local
// Close wins over a refusal, which wins over a reset.
func (s *socket) failure() error {
	select {
	case <-s.closed:
		return fmt.Errorf("memory: stream with %s: %w", s.remote, transport.ErrClosed)
	default:
	}
	select {
	case <-s.st.refused:
		return s.st.refuseErr
	default:
	}
	select {
	case <-s.st.conn.done:
		if s.server {
			return s.st.conn.serverErr
		}
		return s.st.conn.clientErr
	default:
	}
	return nil
}

// sendErr reports why Send cannot succeed now, or nil.
func (s *socket) sendErr() error {
	if err := s.failure(); err != nil {
		return err
	}
	select {
	case <-s.out.eof:
		return fmt.Errorf("memory: send to %s after CloseSend: %w", s.remote, transport.ErrClosed)
	default:
	}
	select {
	case <-s.peer.closed:
		return fmt.Errorf("memory: send to %s: %w: the peer closed the stream", s.remote, transport.ErrClosed)
	default:
	}
	return nil
}
