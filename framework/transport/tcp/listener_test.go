package tcp_test

import (
	"io"

	"testing"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/tcp"
	"github.com/microsim/microsim/framework/transport/transporttest"
)

// TestListenerCloseDrains: after Listener.Close an accepted stream runs to
// completion, new streams on its connection are refused, and the server side
// closes the connection once that stream has finished.
func TestListenerCloseDrains(t *testing.T) {
	srv := newTransport(t)
	l, err := srv.Listen("127.0.0.1:0")
	require.NoError(t, err)
	accl := transporttest.NewAcceptor(l)
	t.Cleanup(func() { accl.Close() })
	logs := newLogSink()
	cli := newTransport(t, tcp.WithLogger(logs.logger()))
	ctx := testCtx(t)
	c, err := cli.Dial(ctx, l.Addr())
	require.NoError(t, err)
	defer c.Close()
	cs, err := c.NewStream(ctx, nil)
	require.NoError(t, err)
	defer cs.Close()
	ss, err := accl.Accept(ctx)
	require.NoError(t, err)

	require.NoError(t, l.Close())
	refused, err := c.NewStream(ctx, nil)
	if err == nil {
		_, err = refused.Recv(ctx)
		refused.Close()
	}
	require.ErrorIs(t, err, transport.ErrRefused)

	// The accepted stream still works both ways.
	require.NoError(t, cs.Send(ctx, &transport.Message{Body: []byte("ping")}))
	m, err := ss.Recv(ctx)
	require.NoError(t, err)
	require.NoError(t, ss.Send(ctx, m))
	m, err = cs.Recv(ctx)
	require.NoError(t, err)
	require.Equal(t, "ping", string(m.Body))

	// Once it ends, the server closes the connection.
	require.NoError(t, ss.Close())
	logs.waitFor(t, "DEBUG tcp: connection closed", "server=false", "closed by the peer")
	_, err = cs.Recv(ctx)
	require.ErrorIs(t, err, io.EOF, "the stream itself ended normally")
	_, err = c.NewStream(ctx, nil)
	require.Error(t, err)
}

// TestAcceptBacklog: streams beyond the accept backlog are refused; the ones
// within it wait for Accept.
func TestAcceptBacklog(t *testing.T) {
	const backlog = 4096
	tr := newTransport(t, tcp.WithMaxStreams(backlog+1)) // the backlog, not the stream limit, refuses
	l, err := tr.Listen("127.0.0.1:0")
	require.NoError(t, err)
	accl := transporttest.NewAcceptor(l)
	t.Cleanup(func() { accl.Close() })
	defer l.Close()
	ctx := testCtx(t)
	c, err := tr.Dial(ctx, l.Addr())
	require.NoError(t, err)
	defer c.Close()
	var socks []transport.Socket
	for range backlog + 1 {
		s, err := c.NewStream(ctx, nil)
		require.NoError(t, err)
		defer s.Close()
		socks = append(socks, s)
	}
	_, err = socks[backlog].Recv(ctx)
	require.ErrorIs(t, err, transport.ErrRefused, "the stream past the backlog")

	// Serve hands the streams over in any order: find socks[0]'s peer by
	// the message sent on it.
	got := make(chan transport.Socket, 1)
	for range backlog {
		s, err := accl.Accept(ctx)
		require.NoError(t, err)
		defer s.Close()
		s.NotifyRecv(func(err error) {
			if err == nil {
				got <- s
			}
		})
	}
	require.NoError(t, socks[0].Send(ctx, &transport.Message{Body: []byte("first")}))
	first := <-got
	m, err := first.Recv(ctx)
	require.NoError(t, err)
	require.Equal(t, "first", string(m.Body))
}
