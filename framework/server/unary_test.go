package server_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/registry/registrymock"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/transport/transportmock"
)

// An endpoint registered through server.Unary serves and is described as
// the same function registered reflectively; wrappers see its values.
func TestUnaryEndpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		var wrapped []string
		wrap := func(next server.HandlerFunc) server.HandlerFunc {
			return func(ctx context.Context, req *server.Request, rsp any) error {
				err := next(ctx, req, rsp)
				wrapped = append(wrapped, fmt.Sprintf("%s %T %T", req.Endpoint, req.Body, rsp))
				return err
			}
		}
		s := w.server(t, nil, server.WithHandlerWrapper(wrap))
		g := &Greeter{}
		require.NoError(t, s.HandleFunc("Typed.Hello", server.Unary(g.Hello)))
		require.NoError(t, s.HandleFunc("Reflect.Hello", g.Hello))
		require.NoError(t, s.HandleFunc("Typed.Conflict", server.Unary(g.Conflict)))
		require.NoError(t, s.Start(t.Context()))
		c := w.dial(t, s.Addr())

		for i := range 3 {
			var rsp HelloReply
			require.NoError(t, c.call(t.Context(), "greeter", "Typed.Hello", &HelloRequest{Name: fmt.Sprint(i)}, &rsp))
			assert.Equal(t, "hello "+fmt.Sprint(i), rsp.Greeting)
		}
		assert.Equal(t, 3, g.helloCalls())
		err := c.call(t.Context(), "greeter", "Typed.Conflict", &HelloRequest{}, &HelloReply{})
		assert.Equal(t, errors.Conflict, code(t, err), "the handler's error reaches the caller")
		assert.Equal(t, []string{
			"Typed.Hello *server_test.HelloRequest *server_test.HelloReply",
			"Typed.Hello *server_test.HelloRequest *server_test.HelloReply",
			"Typed.Hello *server_test.HelloRequest *server_test.HelloReply",
			"Typed.Conflict *server_test.HelloRequest *server_test.HelloReply",
		}, wrapped)

		svcs, err := w.reg(w.cliHost).GetService(t.Context(), "greeter")
		require.NoError(t, err)
		require.Len(t, svcs, 1)
		eps := map[string]*registry.Endpoint{}
		for _, e := range svcs[0].Endpoints {
			eps[e.Name] = e
		}
		typed, refl := *eps["Typed.Hello"], *eps["Reflect.Hello"]
		typed.Name = refl.Name
		assert.Equal(t, refl, typed, "described alike")
		assert.Equal(t, "server_test.HelloRequest", typed.Request)
	})
}

// A wrapper that replaces the request with a value of another type gets an
// error from a Unary endpoint, not a crash.
func TestUnaryWrongRequestType(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		swap := func(next server.HandlerFunc) server.HandlerFunc {
			return func(ctx context.Context, req *server.Request, rsp any) error {
				req.Body = "not a request"
				return next(ctx, req, rsp)
			}
		}
		s := w.server(t, nil, server.WithHandlerWrapper(swap))
		require.NoError(t, s.HandleFunc("Typed.Hello", server.Unary((&Greeter{}).Hello)))
		require.NoError(t, s.Start(t.Context()))
		c := w.dial(t, s.Addr())
		err := c.call(t.Context(), "greeter", "Typed.Hello", &HelloRequest{}, &HelloReply{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "request is a string, the handler takes a *server_test.HelloRequest")
	})
}

// A Unary endpoint's ctx carries the request's metadata, as a reflective one's.
func TestUnaryMetadata(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s := w.server(t, nil)
		g := &Greeter{seen: make(chan inspection, 1)}
		require.NoError(t, s.HandleFunc("Typed.Inspect", server.Unary(g.Inspect)))
		require.NoError(t, s.Start(t.Context()))
		c := w.dial(t, s.Addr())
		ctx := metadata.NewContext(t.Context(), metadata.New("X-User", "ana"))
		require.NoError(t, c.call(ctx, "greeter", "Typed.Inspect", &HelloRequest{}, &HelloReply{}))
		in := <-g.seen
		assert.Equal(t, metadata.MD{"X-User": "ana"}, in.md)
	})
}

func TestUnaryRejectsNil(t *testing.T) {
	ctrl := gomock.NewController(t)
	s, err := server.New("greeter", transportmock.NewMockTransport(ctrl), registrymock.NewMockRegistry(ctrl))
	require.NoError(t, err)
	var nilFn func(context.Context, *HelloRequest, *HelloReply) error
	err = s.HandleFunc("G.Hello", server.Unary(nilFn))
	require.ErrorIs(t, err, server.ErrInvalidHandler)
	assert.Contains(t, err.Error(), `HandleFunc("G.Hello"): Unary: nil function`)
}
