package memory

import (
	"context"
	"io"

	"github.com/microsim/microsim/framework/transport"
)

// NotifyRecv: the callback lives in the socket's incoming pipe and is
// called under the pipe's lock by whoever causes an event that ends a Recv
// wait, on their own goroutine: the peer's Send, CloseSend or Close, a
// refusal, or the reset of the connection, which finds the callbacks to
// call in the streams its NotifyRecv calls registered (conn.notified). A
// stream stays registered as long as the connection keeps it (it is
// reused), so that a NotifyRecv of each call does not write the
// connection's map again.

// NotifyRecv implements transport.Socket. It does not block.
func (s *socket) NotifyRecv(f func(error)) {
	if s.isClosed() {
		return
	}
	if st := s.st; !st.watched.Load() {
		st.conn.watch(st)
	}
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
	return stopped
}

// notifyLocked calls and drops the reader's callback, if any. Called under p.mu.
func (p *pipe) notifyLocked(err error) {
	if f := p.onRecv; f != nil {
		p.onRecv = nil
		f(err)
	}
}

// watch registers st, a stream one of whose sockets arms a callback, so
// that a reset reaches it.
func (c *conn) watch(st *stream) {
	c.notifyMu.Lock()
	if c.notified == nil {
		c.notified = make(map[*stream]struct{})
	}
	c.notified[st] = struct{}{}
	st.watched.Store(true)
	c.notifyMu.Unlock()
}

// unwatch forgets st, a stream the connection no longer keeps.
func (c *conn) unwatch(st *stream) {
	c.notifyMu.Lock()
	delete(c.notified, st)
	c.notifyMu.Unlock()
}

// notifyReset calls the callbacks armed on the connection's streams once
// its done channel is closed, with what the reading socket's Recv would
// return. (A closed socket has none armed.)
func (c *conn) notifyReset() {
	c.notifyMu.Lock()
	streams := make([]*stream, 0, len(c.notified))
	for st := range c.notified {
		streams = append(streams, st)
	}
	c.notifyMu.Unlock()
	for _, st := range streams {
		for _, p := range [2]*pipe{&st.up, &st.down} {
			p.mu.Lock()
			if p.onRecv != nil {
				err := st.refused()
				if err == nil {
					err = c.clientErr
					if p == &st.up { // the server reads it
						err = c.serverErr
					}
				}
				p.notifyLocked(err)
			}
			p.mu.Unlock()
		}
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
