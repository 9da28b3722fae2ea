package memory

import (
	"context"

	"github.com/microsim/microsim/framework/transport"
)

// rawListener returns the memory listener under l (a host's listener, or
// one of newHostTransport).
func rawListener(l transport.Listener) *listener {
	if pl, ok := l.(*pauseListener); ok {
		l = pl.Listener
	}
	return l.(*listener)
}

// AcceptOne takes the oldest stream opened on l, a listener of the memory
// transport, as Serve's goroutines do (without a host pause's wait), for
// tests that look at the streams one at a time. It blocks until there is
// one, the listener is closed (ErrClosed) or ctx is done.
func AcceptOne(ctx context.Context, l transport.Listener) (transport.Socket, error) {
	return rawListener(l).accept(ctx)
}

// HeldHosts is the network's count of hosts down or paused.
func HeldHosts(n *Network) int64 { return n.held.Load() }
