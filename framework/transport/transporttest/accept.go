package transporttest

import (
	"context"
	"sync"

	"github.com/microsim/microsim/framework/transport"
)

// Acceptor serves a Listener for a test that takes the streams one at a
// time, as an accept loop would: the handle it gives Serve queues each
// stream and returns at once, and Accept takes the oldest handed over.
// Serve starts, on a goroutine of the Acceptor's, at the first Accept (so
// that streams opened before it wait in the listener's backlog, as they
// would for a server not started yet) and runs until the listener is
// closed. The streams Accept returns are the test's to close.
type Acceptor struct {
	l    transport.Listener
	wake chan struct{} // cap 1: a stream was queued
	done chan struct{} // closed once Serve returned
	err  error         // Serve's, once done is closed

	mu      sync.Mutex
	started bool
	q       []transport.Socket
}

// NewAcceptor returns an Acceptor for l. It does not block.
func NewAcceptor(l transport.Listener) *Acceptor {
	return &Acceptor{l: l, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// Start starts serving, if Accept has not yet. It does not block.
func (a *Acceptor) Start() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.started {
		return
	}
	a.started = true
	go func() {
		a.err = a.l.Serve(a.push)
		close(a.done)
	}()
}

// Close closes the listener and waits for Serve to return, if it started.
func (a *Acceptor) Close() error {
	err := a.l.Close()
	a.mu.Lock()
	started := a.started
	a.mu.Unlock()
	if started {
		<-a.done
	}
	return err
}

func (a *Acceptor) push(s transport.Socket) {
	a.mu.Lock()
	a.q = append(a.q, s)
	a.mu.Unlock()
	signal(a.wake)
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// pop takes the oldest queued stream, or nil.
func (a *Acceptor) pop() transport.Socket {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.q) == 0 {
		return nil
	}
	s := a.q[0]
	a.q[0] = nil
	a.q = a.q[1:]
	if len(a.q) > 0 {
		signal(a.wake) // for another waiting Accept
	}
	return s
}

// Accept returns the oldest stream Serve handed over and nobody took yet.
// It blocks until there is one, ctx is done, or Serve returned (its error
// then, which wraps transport.ErrClosed).
func (a *Acceptor) Accept(ctx context.Context) (transport.Socket, error) {
	a.Start()
	for {
		if s := a.pop(); s != nil {
			return s, nil
		}
		select {
		case <-a.wake:
		case <-a.done:
			if s := a.pop(); s != nil {
				return s, nil
			}
			return nil, a.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Done is closed once Serve returned (never, if it did not start).
func (a *Acceptor) Done() <-chan struct{} { return a.done }
