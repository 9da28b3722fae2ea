package memory

import (
	"context"
	"io"

	"github.com/microsim/microsim/framework/transport"
)

// NotifyRecv: the callback lives in the socket's incoming pipe and is
// called under the pipe's lock by whoever causes an event that ends a Recv
// wait, on their own goroutine: the peer's Send, CloseSend or Close, a
// refusal, or the reset of the connection (which finds the sockets to call
// through conn.notified).

// NotifyRecv implements transport.Socket. It does not block.
func (s *socket) NotifyRecv(f func(error)) {
	if s.isClosed() {
		return
	}
	s.st.conn.watch(s)
	p := s.in()
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.stale() {
		return // closed meanwhile, and the stream went on to another use
	}
	p.onRecv = f
	// An event that happened before is reported at once.
	switch err := s.failure(); {
	case s.isClosed():
		p.onRecv = nil
	case err != nil:
		p.notifyLocked(err)
	case p.queued() > 0:
		p.notifyLocked(nil)
	case p.eof:
		p.notifyLocked(io.EOF)
	}
}

// StopNotify implements transport.Socket.
func (s *socket) StopNotify() bool {
	p := s.in()
	p.mu.Lock()
	if s.stale() {
		p.mu.Unlock()
		return false // the stream went on to another use: nothing of ours is armed
	}
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
		if !s.stale() {
			in.notifyLocked(err)
		}
		in.mu.Unlock()
	}
}

// SendClose is Send, then Close unless Send failed: the memory transport
// has no wire to save writes on.
func (s *socket) SendClose(ctx context.Context, m *transport.Message) error {
	if err := s.Send(ctx, m); err != nil {
		return err
	}
	return s.Close()
}
