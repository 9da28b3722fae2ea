package memory

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/microsim/microsim/framework/transport"
)

// wrapPauseSocket returns s, a socket of the host's memory transport (the
// only transport a pause transport wraps: newPauseTransport's one caller),
// under its host's pause switch. The decorator lives in the socket (each
// side is wrapped once, by the host it belongs to), and gives
// NotifyRecv the pause's semantics (host_pause_notify.go): a server
// watches every unary call's socket for its caller going away through it.
func wrapPauseSocket(s transport.Socket) transport.Socket {
	ms := s.(*socket)
	ms.deco = pauseNotifySocket{pauseSocket: pauseSocket{socket: ms}}
	return &ms.deco
}

// pauseNotifySocket is a pauseSocket with its host's NotifyRecv. A
// notification is an observation by the host's process, so a paused host
// gets it only when the pause ends (as a Recv would return only then); a
// crash ends the pause and delivers it too. Its state is the stream's, for
// the socket's side, made by the first NotifyRecv on that side of the
// stream and kept while the stream is reused (most sockets never get one,
// and a server arms one on every call): a NotifyRecv records the use it
// was armed for, and the StopNotify of a socket of an earlier use cancels
// nothing of a later one.
type pauseNotifySocket struct {
	pauseSocket
}

// pauseNotify is the state of a pauseNotifySocket's notification.
type pauseNotify struct {
	h      *Host
	net    *Network    // h's: read while every host runs, where h is not
	fireFn func(error) // fire, bound once

	// mu guards the armed notification and serialises its call with
	// StopNotify (which must not return while f runs).
	mu      sync.Mutex
	f       func(error)
	gen     uint64        // counts NotifyRecv calls: a deferred call of an older one is dropped
	use     uint64        // the stream's use (stream.gen) f was armed for
	done    bool          // f was called or cancelled (or none is armed)
	stopped chan struct{} // closed to cancel a call deferred to the resume; nil: none waits
}

// side returns the stream's notification state of the socket's side.
func (s *pauseNotifySocket) side() *atomic.Pointer[pauseNotify] {
	if s.server {
		return &s.st.notes[1]
	}
	return &s.st.notes[0]
}

// notify returns the socket's notification state: its side of the
// stream's, made the first time that side arms one.
func (s *pauseNotifySocket) notify() *pauseNotify {
	side := s.side()
	n := side.Load()
	if n == nil {
		n = &pauseNotify{h: s.host(), net: s.network(), done: true}
		n.fireFn = n.fire
		if !side.CompareAndSwap(nil, n) {
			n = side.Load()
		}
	}
	return n
}

// NotifyRecv implements transport.Socket. It does not block.
func (s *pauseNotifySocket) NotifyRecv(f func(error)) {
	if s.isClosed() {
		return // as the memory socket: nothing after a local Close
	}
	n := s.notify()
	n.mu.Lock()
	n.cancelLocked()
	n.f, n.done = f, false
	n.gen++
	n.use = s.gen
	n.mu.Unlock()
	s.socket.NotifyRecv(n.fireFn)
}

// fire is the inner socket's callback: it calls f now while the host runs,
// or when the pause ends. The callback must not block, so a wait for the
// resume gets a goroutine of its own (only for an event that reaches a
// paused host).
func (n *pauseNotify) fire(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done {
		return
	}
	var resumed chan struct{}
	if !n.net.allRun() {
		resumed = n.h.pause.current()
	}
	if resumed == nil {
		n.done = true
		n.f(err)
		return
	}
	stopped := make(chan struct{})
	n.stopped = stopped
	gen := n.gen
	go func() {
		select {
		case <-resumed:
		case <-stopped:
			return
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.gen == gen && !n.done {
			n.done, n.stopped = true, nil
			n.f(err)
		}
	}()
}

// cancelLocked cancels the armed notification and reports whether it had
// not been called yet. Called under n.mu.
func (n *pauseNotify) cancelLocked() bool {
	if n.stopped != nil {
		close(n.stopped)
		n.stopped = nil
	}
	if n.done {
		return false
	}
	n.done = true
	return true
}

// StopNotify implements transport.Socket. It does not block beyond
// a running callback.
func (s *pauseNotifySocket) StopNotify() bool {
	s.socket.StopNotify()
	n := s.side().Load()
	if n == nil {
		return false // none was ever armed on this side of the stream
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.use != s.gen {
		return false // armed by another use of the stream: not ours
	}
	return n.cancelLocked()
}

// SendClose waits while the host is paused, then sends m and closes: one
// step, as the memory transport takes it, which waits as its two steps
// would.
func (s *pauseSocket) SendClose(ctx context.Context, m *transport.Message) error {
	if err := s.awaitHost(ctx); err != nil {
		return err
	}
	return s.socket.SendClose(ctx, m)
}
