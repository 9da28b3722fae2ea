package memory

import (
	"context"
	"errors"
	"io"

	"github.com/microsim/microsim/framework/transport"
)

// Optional transport interfaces of the memory transport.
//
// NotifyRecv: the callback lives in the socket's incoming pipe and is
// called under the pipe's lock by whoever causes an event that ends a Recv
// wait, on their own goroutine: the peer's Send, CloseSend or Close, a
// refusal, or the reset of the connection (which finds the sockets to call
// through conn.notified).

var _ transport.RecvNotifier = (*socket)(nil)

// NotifyRecv implements transport.RecvNotifier. It does not block.
func (s *socket) NotifyRecv(f func(error)) {
	if s.closed.Load() {
		return
	}
	s.st.conn.watch(s)
	p := s.in()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onRecv = f
	// An event that happened before is reported at once.
	switch err := s.failure(); {
	case s.closed.Load():
		p.onRecv = nil
	case err != nil:
		p.notifyLocked(err)
	case p.queued() > 0:
		p.notifyLocked(nil)
	case p.eof:
		p.notifyLocked(io.EOF)
	}
}

// StopNotify implements transport.RecvNotifier.
func (s *socket) StopNotify() bool {
	p := s.in()
	p.mu.Lock()
	stopped := p.onRecv != nil
	p.onRecv = nil
	p.mu.Unlock()
	if stopped {
		s.st.conn.unwatch(s)
	}
	return stopped
}

// notifyLocked calls and drops the reader's callback, if any. Called under p.mu.
func (p *pipe) notifyLocked(err error) {
	if f := p.onRecv; f != nil {
		p.onRecv = nil
		f(err)
	}
}

// watch registers a socket with a callback, so that a reset reaches it.
func (c *conn) watch(s *socket) {
	c.notifyMu.Lock()
	if c.notified == nil {
		c.notified = make(map[*socket]struct{})
	}
	c.notified[s] = struct{}{}
	c.notifyMu.Unlock()
}

func (c *conn) unwatch(s *socket) {
	c.notifyMu.Lock()
	delete(c.notified, s)
	c.notifyMu.Unlock()
}

// notifyReset calls the callbacks of the connection's sockets once its done
// channel is closed.
func (c *conn) notifyReset() {
	c.notifyMu.Lock()
	socks := make([]*socket, 0, len(c.notified))
	for s := range c.notified {
		socks = append(socks, s)
	}
	clear(c.notified)
	c.notifyMu.Unlock()
	for _, s := range socks {
		err := s.failure()
		in := s.in()
		in.mu.Lock()
		in.notifyLocked(err)
		in.mu.Unlock()
	}
}

// The one-step operations of transport.StreamSender and SendCloser: the
// memory transport has no wire to save writes on. NewStreamSend puts the
// first message into the stream before the stream is queued for Accept,
// so the server never waits for it (and is woken once); SendClose is the
// two steps.

var (
	_ transport.StreamSender = (*conn)(nil)
	_ transport.SendCloser   = (*socket)(nil)
)

// NewStreamSend implements transport.StreamSender: NewStream, then Send,
// with the message in the stream by the time it can be accepted. A message
// Send would refuse (nil, too large) opens the stream and fails as Send.
func (c *conn) NewStreamSend(ctx context.Context, m *transport.Message) (transport.Socket, error) {
	if m != nil {
		if s, err := c.open(ctx, m); err != errOpenTooLarge {
			return s, err
		}
	}
	s, err := c.NewStream(ctx)
	if err != nil {
		return nil, err
	}
	return s, s.Send(ctx, m)
}

// errOpenTooLarge: open's first message is over the size limit (Send
// reports it to the caller).
var errOpenTooLarge = errors.New("memory: first message too large")

// SendClose implements transport.SendCloser: Send, then Close unless Send failed.
func (s *socket) SendClose(ctx context.Context, m *transport.Message) error {
	if err := s.Send(ctx, m); err != nil {
		return err
	}
	return s.Close()
}
