package transporttest

import (
	"github.com/stretchr/testify/require"
)

// testDone checks Conn.Done: it stays open while the connection works and is
// closed once it is closed, and one connection's end is not another's.
func testDone(w *world) {
	t := w.t
	l, c, cs, ss := w.pair()
	done := c.Done()
	require.NotNil(t, done)
	other := w.dial(l)
	otherDone := other.Done()
	require.NotNil(t, otherDone)

	require.NoError(t, cs.Send(w.ctx, numbered(1, 0)))
	m, err := ss.Recv(w.ctx)
	require.NoError(t, err)
	require.NoError(t, checkNumbered(m, 1, 0))
	select {
	case <-done:
		t.Fatal("Done is closed on a working connection")
	default:
	}

	require.NoError(t, c.Close())
	select {
	case <-done:
	case <-w.ctx.Done():
		t.Fatal("Done was not closed after Close")
	}
	select {
	case <-otherDone:
		t.Fatal("closing one connection closed another's Done")
	default:
	}
	cs2, ss2 := w.stream(l, other)
	require.NoError(t, cs2.Send(w.ctx, numbered(2, 0)))
	m, err = ss2.Recv(w.ctx)
	require.NoError(t, err)
	require.NoError(t, checkNumbered(m, 2, 0))
}
