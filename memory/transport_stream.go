package memory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/microsim/microsim/framework/transport"
)

// stream is one stream of a conn: a pipe each way and its two ends, in one
// allocation. Its state is in the pipes, guarded by their mutexes; a
// goroutine that has to wait takes (making it on first use) its pipe's
// wake channel, releases the lock and selects on that channel, its ctx and
// the connection's done channel. Every event that can end a wait sends a
// token to the wake channels it concerns, so no mutex is held across a wait.
type stream struct {
	conn           *conn
	client, server socket
	up, down       pipe // up: client to server; down: server to client

	refusedFlag atomic.Bool // the listener closed before accepting the stream
	refuseErr   error       // written before refusedFlag is set
}

// pipe is one direction of a stream: a bounded queue of copied messages.
type pipe struct {
	mu      sync.Mutex
	q       []*transport.Message // q[head:] are queued
	head    int
	limit   int  // messages queued before Send blocks
	eof     bool // the writer sent CloseSend or Close: nothing more will come
	rclosed bool // the reader closed its socket: it reads nothing more

	recvWake chan struct{} // cap 1: the reader waits for a message or an end
	sendWake chan struct{} // cap 1: the writer waits for room or an end

	onRecv func(error) // the reader's NotifyRecv callback (transport_notify.go)
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

// wakeAll wakes both ends of p. Called under p.mu.
func (p *pipe) wakeAll() {
	wake(p.recvWake)
	wake(p.sendWake)
}

// queued is how many messages wait in p. Called under p.mu.
func (p *pipe) queued() int { return len(p.q) - p.head }

func newStream(c *conn) *stream {
	cfg := c.l.st.net.cfg
	s := &stream{conn: c}
	s.up.limit, s.down.limit = cfg.streamBuffer, cfg.streamBuffer
	s.up.q, s.down.q = s.up.q0[:0], s.down.q0[:0]
	s.client = socket{st: s, remote: c.l.addr, max: cfg.maxMessageSize, in: &s.down, out: &s.up, peer: &s.server}
	s.server = socket{st: s, server: true, remote: c.local, max: cfg.maxMessageSize, in: &s.up, out: &s.down, peer: &s.client}
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

// socket is one end of a stream: a transport.Socket.
type socket struct {
	st      *stream
	server  bool
	remote  string
	max     int
	in, out *pipe
	peer    *socket

	closed atomic.Bool // Close was called
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
	if err := s.failure(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c := m.Clone()
	p := s.out
	p.mu.Lock()
	for {
		if err := s.sendErrLocked(); err != nil {
			p.mu.Unlock()
			return err
		}
		if p.queued() < p.limit {
			break
		}
		if p.sendWake == nil {
			p.sendWake = make(chan struct{}, 1)
		}
		ch := p.sendWake
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.st.conn.done:
		}
		p.mu.Lock()
	}
	p.q = append(p.q, c)
	wake(p.recvWake)
	p.notifyLocked(nil)
	p.mu.Unlock()
	return nil
}

// sendErrLocked reports why Send cannot go on, or nil. Called under s.out.mu.
func (s *socket) sendErrLocked() error {
	if err := s.failure(); err != nil {
		return err
	}
	if s.out.eof {
		return fmt.Errorf("memory: send to %s after CloseSend: %w", s.remote, transport.ErrClosed)
	}
	if s.out.rclosed {
		return fmt.Errorf("memory: send to %s: %w: the peer closed the stream", s.remote, transport.ErrClosed)
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
	p := s.in
	p.mu.Lock()
	for {
		if err := s.failure(); err != nil {
			p.mu.Unlock()
			return nil, err
		}
		if p.head < len(p.q) {
			m := p.q[p.head]
			p.q[p.head] = nil
			if p.head++; p.head == len(p.q) {
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
		if p.recvWake == nil {
			p.recvWake = make(chan struct{}, 1)
		}
		ch := p.recvWake
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.st.conn.done:
		}
		p.mu.Lock()
	}
}

// CloseSend tells the peer no more messages will be sent; its Recv returns
// io.EOF once it has the earlier ones. It does not block. Idempotent.
func (s *socket) CloseSend() error {
	s.out.end()
	return nil
}

// end marks the writer's end of p and wakes both ends. Idempotent.
func (p *pipe) end() {
	p.mu.Lock()
	if !p.eof {
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
func (s *socket) RemoteAddr() string { return s.remote }

// Close ends this side: pending and later Send and Recv here fail with
// ErrClosed, the peer receives what was sent before and then io.EOF, and
// the peer's Send fails with ErrClosed. It does not block. Idempotent.
func (s *socket) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.StopNotify() // a local Close is no event for NotifyRecv
	in := s.in
	in.mu.Lock()
	in.rclosed = true
	in.wakeAll() // our pending Recv, the peer's pending Send
	in.mu.Unlock()
	s.out.end() // our pending Send; the peer's Recv drains, then io.EOF
	return nil
}

// failure reports why the socket can carry nothing more, or nil. A local
// Close wins over a refusal, which wins over a reset.
func (s *socket) failure() error {
	if s.closed.Load() {
		return fmt.Errorf("memory: stream with %s: %w", s.remote, transport.ErrClosed)
	}
	if err := s.st.refused(); err != nil {
		return err
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
