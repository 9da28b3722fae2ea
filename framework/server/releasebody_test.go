package server_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/codec"
	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/transport"
)

// bodyCounter wraps a transport; the sockets its listeners accept count
// ReleaseBody calls (and pass them on).
type bodyCounter struct {
	transport.Transport
	n *atomic.Int64
}

func (t bodyCounter) Listen(addr string) (transport.Listener, error) {
	l, err := t.Transport.Listen(addr)
	if err != nil {
		return nil, err
	}
	return bodyCounterListener{l, t.n}, nil
}

type bodyCounterListener struct {
	transport.Listener
	n *atomic.Int64
}

func (l bodyCounterListener) Accept(ctx context.Context) (transport.Socket, error) {
	s, err := l.Listener.Accept(ctx)
	if err != nil {
		return nil, err
	}
	return &bodyCounterSocket{s, l.n}, nil
}

type bodyCounterSocket struct {
	transport.Socket
	n *atomic.Int64
}

func (s *bodyCounterSocket) ReleaseBody(m *transport.Message) {
	s.n.Add(1)
	transport.ReleaseBody(s.Socket, m)
}

// Raw is served with the bytes codec, whose decoded request aliases the
// body.
type Raw struct{}

func (Raw) Echo(ctx context.Context, req *[]byte, rsp *[]byte) error {
	*rsp = append((*rsp)[:0], *req...)
	return nil
}

// TestUnaryReleasesRequestBody: once a copying codec (JSON here) decoded
// the request, the server hands its body back to the transport, and the
// handler still sees the request's header (its metadata); with the bytes
// codec, whose request aliases the body, it keeps the body.
func TestUnaryReleasesRequestBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		var released atomic.Int64
		tr := bodyCounter{w.srvHost.Transport(), &released}
		s, err := server.New("greeter", tr, w.reg(w.srvHost))
		require.NoError(t, err)
		g := &Greeter{seen: make(chan inspection, 1)}
		require.NoError(t, s.Handle(g))
		require.NoError(t, s.Handle(Raw{}))
		require.NoError(t, s.Start(t.Context()))
		t.Cleanup(func() { _ = s.Stop(context.Background()) })
		c := w.dial(t, s.Addr())

		const calls = 5
		for i := range calls {
			var rsp HelloReply
			require.NoError(t, c.call(t.Context(), "greeter", "Greeter.Hello", &HelloRequest{Name: "ana"}, &rsp))
			assert.Equal(t, "hello ana", rsp.Greeting)
			assert.Equal(t, int64(i+1), released.Load(), "bodies released after %d JSON calls", i+1)
		}
		ctx := metadata.NewContext(t.Context(), metadata.MD{"Tenant": "blue"})
		require.NoError(t, c.call(ctx, "greeter", "Greeter.Inspect", &HelloRequest{}, &HelloReply{}))
		in := <-g.seen
		assert.Equal(t, "blue", in.md["Tenant"], "metadata seen by the handler after the body was released")
		assert.Equal(t, int64(calls+1), released.Load())

		c.codec = codec.Bytes()
		req, rsp := []byte("raw bytes"), []byte(nil)
		require.NoError(t, c.call(t.Context(), "greeter", "Raw.Echo", &req, &rsp))
		assert.Equal(t, "raw bytes", string(rsp))
		assert.Equal(t, int64(calls+1), released.Load(), "a bytes-codec request body must stay with its handler")
	})
}
