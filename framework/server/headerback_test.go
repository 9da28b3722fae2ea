package server_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/transport"
)

// releaseSpy counts the request header maps a server hands back to its
// transport (transport.Releaser), passing everything through.
type releaseSpy struct {
	transport.Transport
	headers atomic.Int32
}

func (t *releaseSpy) Listen(addr string) (transport.Listener, error) {
	l, err := t.Transport.Listen(addr)
	if err != nil {
		return nil, err
	}
	return &spyListener{Listener: l, spy: t}, nil
}

type spyListener struct {
	transport.Listener
	spy *releaseSpy
}

func (l *spyListener) Accept(ctx context.Context) (transport.Socket, error) {
	s, err := l.Listener.Accept(ctx)
	if err != nil {
		return nil, err
	}
	return &spySocket{Socket: s, spy: l.spy}, nil
}

type spySocket struct {
	transport.Socket
	spy *releaseSpy
}

func (s *spySocket) Release(m *transport.Message) {
	if m != nil && m.Header != nil {
		s.spy.headers.Add(1)
	}
	transport.Release(s.Socket, m)
}

func (s *spySocket) ReleaseBody(m *transport.Message) { transport.ReleaseBody(s.Socket, m) }

// TestRequestHeaderHandedBack: a server with no handler wrappers hands
// every unary request's header map back to the transport once the handler
// returned (nothing outside the server can see it: the handler's metadata
// is a copy, which it may keep); with a wrapper, which sees the Request
// and may keep its header, it hands back none.
func TestRequestHeaderHandedBack(t *testing.T) {
	const calls = 20
	for _, wrapped := range []bool{false, true} {
		t.Run("wrapped="+strconv.FormatBool(wrapped), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				spy := &releaseSpy{Transport: w.srvHost.Transport()}
				var mu sync.Mutex
				var kept []map[string]string // what the wrapper kept
				var opts []server.Option
				if wrapped {
					opts = append(opts, server.WithHandlerWrapper(func(next server.HandlerFunc) server.HandlerFunc {
						return func(ctx context.Context, req *server.Request, rsp any) error {
							mu.Lock()
							kept = append(kept, req.Header)
							mu.Unlock()
							return next(ctx, req, rsp)
						}
					}))
				}
				s, err := server.New("greeter", spy, w.reg(w.srvHost), opts...)
				require.NoError(t, err)
				g := &Greeter{seen: make(chan inspection, calls)}
				require.NoError(t, s.Handle(g))
				require.NoError(t, s.Start(t.Context()))
				defer func() {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					require.NoError(t, s.Stop(ctx))
				}()
				c := w.dial(t, s.Addr())

				for i := range calls {
					ctx := metadata.NewContext(t.Context(), metadata.New("X-N", strconv.Itoa(i)))
					require.NoError(t, c.call(ctx, "greeter", "Greeter.Inspect", &HelloRequest{}, &HelloReply{}))
				}
				for i := range calls {
					in := <-g.seen
					assert.Equal(t, metadata.MD{"X-N": strconv.Itoa(i)}, in.md, "call %d: the metadata the handler kept", i)
				}
				if !wrapped {
					assert.Equal(t, int32(calls), spy.headers.Load(), "request headers handed back")
					return
				}
				assert.Zero(t, spy.headers.Load(), "no header handed back while a wrapper sees the Request")
				mu.Lock()
				defer mu.Unlock()
				require.Len(t, kept, calls)
				for i, h := range kept {
					assert.Equal(t, strconv.Itoa(i), h["X-N"], "call %d: the header the wrapper kept", i)
				}
			})
		})
	}
}
