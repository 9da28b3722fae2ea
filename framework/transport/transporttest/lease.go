package transporttest

import (
	"fmt"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/internal/poison"
)

// testLease checks the ownership rule of received messages: a message is
// intact until its socket's next Recv or Close, whatever else the
// connection carries meanwhile; strings read from its header stay intact
// after that; and, built with microsim_poison, a message whose lease ended
// is visibly poisoned, so that a reader that kept it fails.
func testLease(w *world) {
	t := w.t
	l, c, cs, ss := w.pair()
	require.NoError(t, sendN(w.ctx, cs, 1, 1, false))
	m0, err := ss.Recv(w.ctx)
	require.NoError(t, err)
	seq := m0.Header["Seq"] // a string: the reader's to keep
	// Traffic on other streams of the connection, both ways, does not
	// touch m0 while its lease lasts.
	for i := range 3 {
		ocs, oss := w.stream(l, c)
		require.NoError(t, sendN(w.ctx, ocs, 10+i, 1, true))
		require.NoError(t, recvN(w.ctx, oss, 10+i, 1, true))
		require.NoError(t, sendN(w.ctx, oss, 20+i, 1, true))
		require.NoError(t, recvN(w.ctx, ocs, 20+i, 1, true))
	}
	require.NoError(t, checkNumbered(m0, 1, 0), "a message before its socket's next Recv")
	require.NoError(t, cs.Send(w.ctx, numbered(1, 1)))

	m1, err := ss.Recv(w.ctx)
	require.NoError(t, err)
	require.NoError(t, checkNumbered(m1, 1, 1))
	require.Equal(t, "0", seq, "a header string kept after the lease")
	if poison.On {
		requirePoisoned(t, m0, "the message before the next Recv")
	}
	require.NoError(t, ss.Close())
	if poison.On {
		requirePoisoned(t, m1, "the last message after Close")
	}
}

// requirePoisoned checks that m was overwritten by package poison.
func requirePoisoned(t require.TestingT, m *transport.Message, what string) {
	require.Equal(t, poison.Value, m.Header[poison.Key], "%s: header not poisoned: %v", what, m.Header)
	for i, b := range m.Body {
		require.Equal(t, byte(poison.Byte), b, "%s: body byte %d not poisoned", what, i)
	}
}

// testUseAfterClose: a socket closed on both sides stays closed however
// many streams the connection opens afterwards (a transport may reuse
// memory, never a handle): its Send and Recv fail with ErrClosed, its
// Close, CloseSend and NotifyRecv do nothing, and none of it touches the
// streams opened since.
func testUseAfterClose(w *world) {
	t := w.t
	l, c, cs, ss := w.pair()
	require.NoError(t, cs.Close())
	require.NoError(t, ss.Close())
	const later = 40
	var live [][2]transport.Socket
	for i := range later {
		ncs, nss := w.stream(l, c)
		require.NoError(t, sendN(w.ctx, ncs, i, 1, false))
		require.NoError(t, recvN(w.ctx, nss, i, 1, false))
		live = append(live, [2]transport.Socket{ncs, nss})
	}
	for _, s := range []transport.Socket{cs, ss} {
		require.ErrorIs(t, s.Send(w.ctx, numbered(99, 0)), transport.ErrClosed, "Send after Close")
		require.ErrorIs(t, s.SendClose(w.ctx, numbered(99, 0)), transport.ErrClosed, "SendClose after Close")
		_, err := s.Recv(w.ctx)
		require.ErrorIs(t, err, transport.ErrClosed, "Recv after Close")
		s.NotifyRecv(func(error) { panic("NotifyRecv after Close called back") })
		require.False(t, s.StopNotify())
		require.NoError(t, s.CloseSend())
		require.NoError(t, s.Close())
	}
	for i, p := range live {
		require.NoError(t, sendN(w.ctx, p[0], i, 1, true), fmt.Sprintf("stream %d opened after", i))
		require.NoError(t, recvN(w.ctx, p[1], i, 1, true))
		require.NoError(t, sendN(w.ctx, p[1], 100+i, 1, true))
		require.NoError(t, recvN(w.ctx, p[0], 100+i, 1, true))
	}
}
