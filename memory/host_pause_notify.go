package memory

import (
	"sync"

	"github.com/microsim/microsim/framework/transport"
)

// wrapPauseSocket returns s under h's pause switch, keeping s's
// transport.RecvNotifier when it has one: a server watches every unary
// call's socket for its caller going away through it, and without it would
// fall back to a goroutine blocked in Recv per call.
func wrapPauseSocket(s transport.Socket, h *Host) transport.Socket {
	ps := &pauseSocket{Socket: s, h: h}
	if rn, ok := s.(transport.RecvNotifier); ok {
		return &pauseNotifySocket{pauseSocket: ps, rn: rn}
	}
	return ps
}

// pauseNotifySocket is a pauseSocket whose socket has a RecvNotifier. A
// notification is an observation by the host's process, so a paused host
// gets it only when the pause ends (as a Recv would return only then); a
// crash ends the pause and delivers it too.
type pauseNotifySocket struct {
	*pauseSocket
	rn transport.RecvNotifier

	mu  sync.Mutex
	cur *pauseNotice // the armed notification; nil: none
}

var _ transport.RecvNotifier = (*pauseNotifySocket)(nil)

// pauseNotice is one NotifyRecv: f, called at most once, never after the
// StopNotify that cancelled it has returned.
type pauseNotice struct {
	mu      sync.Mutex
	f       func(error)
	done    bool          // f was called or cancelled
	stopped chan struct{} // closed by cancel; made only for a deferred call
}

// call calls f with err unless the notice was cancelled or already called.
func (n *pauseNotice) call(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done {
		return
	}
	n.done = true
	n.f(err)
}

// cancel stops a notice that has not been called and reports whether it
// did. When it returns, f is not running.
func (n *pauseNotice) cancel() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done {
		return false
	}
	n.done = true
	if n.stopped != nil {
		close(n.stopped)
	}
	return true
}

// NotifyRecv implements transport.RecvNotifier. It does not block.
func (s *pauseNotifySocket) NotifyRecv(f func(error)) {
	n := &pauseNotice{f: f}
	s.mu.Lock()
	old := s.cur
	s.cur = n
	s.mu.Unlock()
	if old != nil {
		old.cancel() // replaced: a call it deferred to a resume is dropped
	}
	s.rn.NotifyRecv(func(err error) {
		resumed := s.h.pause.current()
		if resumed == nil {
			n.call(err)
			return
		}
		// Paused: deliver when the pause ends, unless cancelled first. The
		// callback must not block, so the wait gets a goroutine of its own
		// (only for an event that reaches a paused host).
		n.mu.Lock()
		if n.done {
			n.mu.Unlock()
			return
		}
		n.stopped = make(chan struct{})
		stopped := n.stopped
		n.mu.Unlock()
		go func() {
			select {
			case <-resumed:
				n.call(err)
			case <-stopped:
			}
		}()
	})
}

// StopNotify implements transport.RecvNotifier. It does not block beyond
// a running callback.
func (s *pauseNotifySocket) StopNotify() bool {
	s.rn.StopNotify()
	s.mu.Lock()
	n := s.cur
	s.cur = nil
	s.mu.Unlock()
	if n == nil {
		return false
	}
	// The inner notification may have fired already and be waiting for a
	// resume: cancelling the notice is what decides.
	return n.cancel()
}
