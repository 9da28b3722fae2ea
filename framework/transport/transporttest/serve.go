package transporttest

import (
	"sync"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
)

// testServe: Serve hands every stream to handle, a handle that blocks
// holds up no other stream (on the same connection or another), a second
// Serve fails at once, and Serve returns an error wrapping ErrClosed once
// the listener is closed and every handle call returned — not before.
func testServe(w *world) {
	t := w.t
	l := w.listen()
	c, c2 := w.dial(l), w.dial(l)
	release := make(chan struct{})
	got := make(chan transport.Socket, 3)
	var mu sync.Mutex
	handled := 0
	served := w.goErr(func() error {
		return l.Serve(func(s transport.Socket) {
			defer s.Close()
			m, err := s.Recv(w.ctx)
			if err != nil {
				return
			}
			mu.Lock()
			handled++
			mu.Unlock()
			if checkNumbered(m, 1, 0) == nil {
				<-release // the first stream's handle blocks
			}
			got <- s
			_ = s.Send(w.ctx, m)
		})
	})
	cs1, err := c.NewStream(w.ctx, numbered(1, 0))
	require.NoError(t, err)
	t.Cleanup(func() { cs1.Close() })
	w.settle()
	for i, cn := range []transport.Conn{c, c2} {
		cs, err := cn.NewStream(w.ctx, numbered(2, i))
		require.NoError(t, err)
		t.Cleanup(func() { cs.Close() })
		recvSeq(w, cs, 2, i) // served while the first handle blocks
	}
	require.Error(t, l.Serve(func(s transport.Socket) { s.Close() }), "a second Serve")

	require.NoError(t, l.Close())
	w.settle()
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) while a handle call was running", err)
	default:
	}
	close(release)
	require.ErrorIs(t, <-served, transport.ErrClosed, "Serve after Close")
	recvSeq(w, cs1, 1, 0)
	mu.Lock()
	require.Equal(t, 3, handled)
	mu.Unlock()
}
