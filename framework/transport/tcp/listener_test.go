package tcp_test

import (
	"io"

	"testing"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/tcp"
)

// TestListenerCloseDrains: after Listener.Close an accepted stream runs to
// completion, new streams on its connection are refused, and the server side
// closes the connection once that stream has finished.
func TestListenerCloseDrains(t *testing.T) {
	srv := newTransport(t)
	l, err := srv.Listen("127.0.0.1:0")
	require.NoError(t, err)
	logs := newLogSink()
	cli := newTransport(t, tcp.WithLogger(logs.logger()))
	ctx := testCtx(t)
	c, err := cli.Dial(ctx, l.Addr())
	require.NoError(t, err)
	defer c.Close()
	cs, err := c.NewStream(ctx)
	require.NoError(t, err)
	defer cs.Close()
	ss, err := l.Accept(ctx)
	require.NoError(t, err)

	require.NoError(t, l.Close())
	refused, err := c.NewStream(ctx)
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
	_, err = c.NewStream(ctx)
	require.Error(t, err)
}

// TestAcceptBacklog: streams beyond the accept backlog are refused; the ones
// within it wait for Accept.
func TestAcceptBacklog(t *testing.T) {
	tr := newTransport(t)
	l, err := tr.Listen("127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	ctx := testCtx(t)
	c, err := tr.Dial(ctx, l.Addr())
	require.NoError(t, err)
	defer c.Close()
	const backlog = 4096
	var socks []transport.Socket
	for range backlog + 1 {
		s, err := c.NewStream(ctx)
		require.NoError(t, err)
		defer s.Close()
		socks = append(socks, s)
	}
	_, err = socks[backlog].Recv(ctx)
	require.ErrorIs(t, err, transport.ErrRefused, "the stream past the backlog")

	first, err := l.Accept(ctx)
	require.NoError(t, err)
	defer first.Close()
	require.NoError(t, socks[0].Send(ctx, &transport.Message{Body: []byte("first")}))
	m, err := first.Recv(ctx)
	require.NoError(t, err)
	require.Equal(t, "first", string(m.Body))
}
