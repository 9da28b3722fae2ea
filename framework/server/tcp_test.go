package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/codec"
	"github.com/microsim/microsim/framework/internal/wire"
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

// TestCallerGoneOverTCP: over the TCP transport (whose sockets call back
// through NotifyRecv) a handler whose caller closes the stream is
// cancelled with ErrCallerGone, and a plain call still works.
func TestCallerGoneOverTCP(t *testing.T) {
	w := &Waiter{causes: make(chan error, 1)}
	conn := servedOverTCP(t, "waiter", []any{w, &Greeter{}})
	c := &rawClient{conn: conn, codec: codec.JSON()}
	var rsp HelloReply
	require.NoError(t, c.call(t.Context(), "waiter", "Greeter.Hello", &HelloRequest{Name: "tcp"}, &rsp))
	require.Equal(t, "hello tcp", rsp.Greeting)

	sock, err := conn.NewStream(t.Context(), nil)
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

// TestStreamOverTCPLeasesMessages: over TCP each message a stream
// handler's Recv decodes is lent until the next, and the transport reuses
// its memory for the later ones: every message still arrives intact, and
// the Request's headers, which a wrapper reads after the handler received
// them all, are intact to the end.
func TestStreamOverTCPLeasesMessages(t *testing.T) {
	endpoints := make(chan string, 2)
	check := func(next server.HandlerFunc) server.HandlerFunc {
		return func(ctx context.Context, req *server.Request, rsp any) error {
			err := next(ctx, req, rsp)
			endpoints <- req.Header[wire.Endpoint]
			return err
		}
	}
	conn := servedOverTCP(t, "greeter", []any{&Greeter{}}, server.WithHandlerWrapper(check))
	c := &rawClient{conn: conn, codec: codec.JSON()}

	const n = 300
	name := func(i int) string { return strings.Repeat(fmt.Sprintf("m%d.", i), 1+i%40) }
	for _, withPayload := range []bool{false, true} {
		var sock transport.Socket
		var err error
		first := 0
		if withPayload { // the opening message is the first data message
			sock, err = conn.NewStream(t.Context(), nil)
			require.NoError(t, err)
			b, err := json.Marshal(&HelloRequest{Name: name(0)})
			require.NoError(t, err)
			require.NoError(t, sock.Send(t.Context(), &transport.Message{Header: c.request(t.Context(), "greeter", "Greeter.Echo"), Body: b}))
			first = 1
		} else {
			sock, err = c.openStream(t.Context(), "greeter", "Greeter.Echo")
			require.NoError(t, err)
		}
		sent := make(chan error, 1)
		go func() {
			for i := first; i < n; i++ {
				b, _ := json.Marshal(&HelloRequest{Name: name(i)})
				if err := sock.Send(t.Context(), &transport.Message{Body: b}); err != nil {
					sent <- err
					return
				}
			}
			sent <- sock.CloseSend()
		}()
		got, _ := recvAll(t, sock)
		require.NoError(t, <-sent)
		require.Len(t, got, n)
		for i, g := range got {
			require.Equal(t, name(i), g, "message %d", i)
		}
		require.Equal(t, "Greeter.Echo", <-endpoints, "the opening message's headers")
		sock.Close()
	}
}

// Meeting's first caller waits in its handler until a second caller has
// come in (over the same connection).
type Meeting struct {
	entered chan struct{} // receives when a caller's handler runs
	met     chan struct{} // closed by the second caller
}

func (m *Meeting) Meet(ctx context.Context, req *HelloRequest, rsp *HelloReply) error {
	m.entered <- struct{}{}
	if req.Name == "first" {
		select {
		case <-m.met:
		case <-ctx.Done():
			return ctx.Err()
		}
	} else {
		close(m.met)
	}
	rsp.Greeting = "met " + req.Name
	return nil
}

// TestBlockedCallDoesNotBlockItsConnection: over TCP a call alone on its
// connection is served on the transport's reading goroutine (inside
// Listener.Serve). A handler that then waits for another call
// on the same connection must still see it arrive and be served: the
// transport reads the connection on with another goroutine.
func TestBlockedCallDoesNotBlockItsConnection(t *testing.T) {
	m := &Meeting{entered: make(chan struct{}, 2), met: make(chan struct{})}
	conn := servedOverTCP(t, "meeting", []any{m})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c := &rawClient{conn: conn, codec: codec.JSON()}
	first := make(chan error, 1)
	var firstRsp HelloReply
	go func() {
		first <- c.call(ctx, "meeting", "Meeting.Meet", &HelloRequest{Name: "first"}, &firstRsp)
	}()
	select {
	case <-m.entered:
	case <-ctx.Done():
		t.Fatal("the first call never reached its handler")
	}
	var rsp HelloReply
	require.NoError(t, c.call(ctx, "meeting", "Meeting.Meet", &HelloRequest{Name: "second"}, &rsp))
	require.Equal(t, "met second", rsp.Greeting)
	require.NoError(t, <-first)
	require.Equal(t, "met first", firstRsp.Greeting)
}

// servedOverTCP starts service name with handlers on a TCP transport of
// its own (registry: a memory network) and dials it; everything is closed
// when the test ends.
func servedOverTCP(t *testing.T, name string, handlers []any, opts ...server.Option) transport.Conn {
	t.Helper()
	tr, err := tcp.New()
	require.NoError(t, err)
	t.Cleanup(func() { tr.Close() })
	net := memory.MustNetwork()
	t.Cleanup(func() { net.Close() })
	s, err := server.New(name, tr, net.Registry(), append([]server.Option{server.WithAddress("127.0.0.1:0")}, opts...)...)
	require.NoError(t, err)
	for _, h := range handlers {
		require.NoError(t, s.Handle(h))
	}
	require.NoError(t, s.Start(t.Context()))
	t.Cleanup(func() { s.Stop(context.Background()) })
	conn, err := tr.Dial(t.Context(), s.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}
