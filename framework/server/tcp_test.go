package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/codec"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/tcp"
	"github.com/microsim/microsim/memory"
)

// Waiter's handler waits for its ctx and reports the cause.
type Waiter struct{ causes chan error }

func (w *Waiter) Wait(ctx context.Context, _ *HelloRequest, _ *HelloReply) error {
	<-ctx.Done()
	w.causes <- context.Cause(ctx)
	return ctx.Err()
}

// TestCallerGoneOverTCP: over the TCP transport (whose sockets are
// transport.RecvNotifiers) a handler whose caller closes the stream is
// cancelled with ErrCallerGone, and a plain call still works.
func TestCallerGoneOverTCP(t *testing.T) {
	tr, err := tcp.New()
	require.NoError(t, err)
	t.Cleanup(func() { tr.Close() })
	net := memory.MustNetwork()
	t.Cleanup(func() { net.Close() })
	s, err := server.New("waiter", tr, net.Registry(), server.WithAddress("127.0.0.1:0"))
	require.NoError(t, err)
	w := &Waiter{causes: make(chan error, 1)}
	require.NoError(t, s.Handle(w))
	require.NoError(t, s.Handle(&Greeter{}))
	require.NoError(t, s.Start(t.Context()))
	t.Cleanup(func() { s.Stop(context.Background()) })

	conn, err := tr.Dial(t.Context(), s.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	c := &rawClient{conn: conn, codec: codec.JSON()}
	var rsp HelloReply
	require.NoError(t, c.call(t.Context(), "waiter", "Greeter.Hello", &HelloRequest{Name: "tcp"}, &rsp))
	require.Equal(t, "hello tcp", rsp.Greeting)

	sock, err := conn.NewStream(t.Context())
	require.NoError(t, err)
	require.NoError(t, sock.Send(t.Context(), &transport.Message{Header: c.request(t.Context(), "waiter", "Waiter.Wait"), Body: []byte(`{}`)}))
	time.Sleep(50 * time.Millisecond) // the handler is waiting
	require.NoError(t, sock.Close())
	select {
	case cause := <-w.causes:
		require.True(t, errors.Is(cause, server.ErrCallerGone), "cause: %v", cause)
	case <-time.After(10 * time.Second):
		t.Fatal("the handler was not cancelled when its caller left")
	}
}
