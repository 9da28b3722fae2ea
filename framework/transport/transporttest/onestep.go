package transporttest

import (
	"io"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
)

// testNewStreamFirst checks NewStream with a first message: the stream
// reaches the server with its first message; a message over the limit leaves an open, usable stream; a
// closed connection opens nothing.
func testNewStreamFirst(w *world) {
	t := w.t
	l := w.listen()
	c := w.dial(l)
	cs, err := c.NewStream(w.ctx, numbered(1, 0))
	require.NoError(t, err)
	require.NotNil(t, cs)
	t.Cleanup(func() { cs.Close() })
	ss, err := w.accept(l).Accept(w.ctx)
	require.NoError(t, err)
	t.Cleanup(func() { ss.Close() })
	recvSeq(w, ss, 1, 0)
	require.NoError(t, sendN(w.ctx, cs, 1, 1, false), "the stream goes on like any other") // message 0 again
	recvSeq(w, ss, 1, 0)
	require.NoError(t, ss.Send(w.ctx, numbered(2, 0)))
	recvSeq(w, cs, 2, 0)

	if max := w.s.MaxMessageSize; max > 0 {
		big := &transport.Message{Body: make([]byte, max+1)}
		headed := &transport.Message{Header: map[string]string{"0123456789": "x"}, Body: make([]byte, max-10)}
		for i, m := range []*transport.Message{big, headed} {
			cs2, err := c.NewStream(w.ctx, m)
			require.ErrorIs(t, err, transport.ErrMessageTooLarge, "message %d", i)
			require.NotNil(t, cs2, "the stream was opened")
			t.Cleanup(func() { cs2.Close() })
			ss2, err := w.accept(l).Accept(w.ctx)
			require.NoError(t, err, "the stream reaches the server")
			t.Cleanup(func() { ss2.Close() })
			require.NoError(t, cs2.Send(w.ctx, numbered(3, i)), "and stays usable")
			recvSeq(w, ss2, 3, i)
		}
	}

	require.NoError(t, c.Close())
	s, err := c.NewStream(w.ctx, numbered(4, 0))
	require.ErrorIs(t, err, transport.ErrClosed, "after Conn.Close")
	require.Nil(t, s)
}

// testSendClose checks SendClose: the peer receives the message, then io.EOF, and its
// Send fails; later calls on the closed side fail with ErrClosed; a message
// over the limit leaves the stream open.
func testSendClose(w *world) {
	t := w.t
	_, _, cs, ss := w.pair()
	sc := ss

	if max := w.s.MaxMessageSize; max > 0 {
		big := &transport.Message{Body: make([]byte, max+1)}
		require.ErrorIs(t, sc.SendClose(w.ctx, big), transport.ErrMessageTooLarge)
		require.NoError(t, ss.Send(w.ctx, numbered(1, 0)), "the stream stays open")
		recvSeq(w, cs, 1, 0)
	}

	require.NoError(t, cs.Send(w.ctx, numbered(2, 0)))
	recvSeq(w, ss, 2, 0)
	require.NoError(t, sc.SendClose(w.ctx, numbered(3, 0)))
	recvSeq(w, cs, 3, 0)
	_, err := cs.Recv(w.ctx)
	require.ErrorIs(t, err, io.EOF, "the end of the stream follows the message")
	if !w.s.DelayedSends {
		require.ErrorIs(t, cs.Send(w.shortCtx(), numbered(2, 1)), transport.ErrClosed, "the peer's Send")
	}

	_, err = ss.Recv(w.ctx)
	require.ErrorIs(t, err, transport.ErrClosed, "Recv on the closed side")
	require.ErrorIs(t, ss.Send(w.ctx, numbered(3, 1)), transport.ErrClosed, "Send on the closed side")
	require.ErrorIs(t, sc.SendClose(w.ctx, numbered(3, 1)), transport.ErrClosed, "SendClose on the closed side")
	require.NoError(t, ss.Close(), "Close is still idempotent")
}
