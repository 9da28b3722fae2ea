package server_test

import (
	"context"
	stderrors "errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/microsim/microsim/framework/codec"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/internal/wire"
	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/memory"
)

func TestUnaryJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s := w.started(t, &Greeter{})
		c := w.dial(t, s.Addr())

		var rsp HelloReply
		require.NoError(t, c.call(t.Context(), "greeter", "Greeter.Hello", &HelloRequest{Name: "ana"}, &rsp))
		assert.Equal(t, "hello ana", rsp.Greeting)
	})
}

func TestUnaryProto(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s := w.server(t, nil)
		require.NoError(t, s.HandleFunc("Text.Upper", func(ctx context.Context, req *wrapperspb.StringValue, rsp *wrapperspb.StringValue) error {
			rsp.Value = strings.ToUpper(req.GetValue())
			return nil
		}))
		require.NoError(t, s.Start(t.Context()))
		c := w.dial(t, s.Addr())
		c.codec = codec.Proto()

		rsp := &wrapperspb.StringValue{}
		require.NoError(t, c.call(t.Context(), "greeter", "Text.Upper", wrapperspb.String("abc"), rsp))
		assert.Equal(t, "ABC", rsp.GetValue())
	})
}

// TestEachRequestIsRouted: requests one after another (through the same
// reused call slot, which remembers the last route) reach the endpoint and
// codec each names, whatever the one before named or failed on.
func TestEachRequestIsRouted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s := w.server(t, &Greeter{})
		require.NoError(t, s.HandleFunc("Text.Upper", func(ctx context.Context, req *wrapperspb.StringValue, rsp *wrapperspb.StringValue) error {
			rsp.Value = strings.ToUpper(req.GetValue())
			return nil
		}))
		require.NoError(t, s.Start(t.Context()))
		js, pb := w.dial(t, s.Addr()), w.dial(t, s.Addr())
		pb.codec = codec.Proto()
		for i := range 3 {
			var hello HelloReply
			require.NoError(t, js.call(t.Context(), "greeter", "Greeter.Hello", &HelloRequest{Name: "ana"}, &hello), "round %d", i)
			assert.Equal(t, "hello ana", hello.Greeting)

			upper := &wrapperspb.StringValue{}
			require.NoError(t, pb.call(t.Context(), "greeter", "Text.Upper", wrapperspb.String("abc"), upper), "round %d", i)
			assert.Equal(t, "ABC", upper.GetValue())

			assert.Equal(t, errors.NotFound, code(t, js.call(t.Context(), "greeter", "Greeter.Missing", &HelloRequest{}, &hello)))
			assert.Equal(t, errors.BadRequest, code(t, pb.call(t.Context(), "greeter", "Greeter.Hello", wrapperspb.String("x"), upper)),
				"Greeter.Hello's JSON request sent as proto")
		}
	})
}

func TestRegisteredNode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s := w.server(t, &Greeter{}, server.WithVersion("1.0"), server.WithMetadata(map[string]string{"zone": "a"}))
		require.NoError(t, s.HandleFunc("Text.Upper", func(ctx context.Context, req, rsp *wrapperspb.StringValue) error { return nil }))
		require.NoError(t, s.Start(t.Context()))

		assert.Equal(t, "srv:49152", s.Addr())
		node := s.Node()
		require.NotNil(t, node)
		assert.Equal(t, &registry.Node{ID: "greeter-srv:49152", Address: "srv:49152", Metadata: map[string]string{"zone": "a"}}, node)
		node.Metadata["zone"] = "changed"
		assert.Equal(t, "a", s.Node().Metadata["zone"], "Node returns a copy")

		svcs, err := w.reg(w.cliHost).GetService(t.Context(), "greeter")
		require.NoError(t, err)
		require.Len(t, svcs, 1)
		assert.Equal(t, "1.0", svcs[0].Version)
		require.Len(t, svcs[0].Nodes, 1)
		assert.Equal(t, "srv:49152", svcs[0].Nodes[0].Address)
		eps := map[string]*registry.Endpoint{}
		for _, e := range svcs[0].Endpoints {
			eps[e.Name] = e
		}
		assert.Equal(t, &registry.Endpoint{Name: "Greeter.Hello", Request: "server_test.HelloRequest", Response: "server_test.HelloReply",
			RequestShape: &registry.Shape{Type: "object", Ref: "server_test.HelloRequest",
				Fields: []*registry.Field{{Name: "name", Shape: registry.Shape{Type: "string"}}}},
			ResponseShape: &registry.Shape{Type: "object", Ref: "server_test.HelloReply",
				Fields: []*registry.Field{{Name: "greeting", Shape: registry.Shape{Type: "string"}}}},
		}, eps["Greeter.Hello"])
		assert.Equal(t, &registry.Endpoint{Name: "Greeter.Echo", Metadata: map[string]string{"stream": "true"}}, eps["Greeter.Echo"])
		assert.Equal(t, "wrapperspb.StringValue", eps["Text.Upper"].Request)
		assert.Equal(t, []*registry.Field{{Name: "value", Shape: registry.Shape{Type: "string"}}}, eps["Text.Upper"].RequestShape.Fields,
			"a protobuf message is described through its descriptor")
		assert.Len(t, eps, 10)
	})
}

func TestMetadataReachesHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		g := &Greeter{seen: make(chan inspection, 1)}
		s := w.started(t, g)
		c := w.dial(t, s.Addr())

		ctx := metadata.NewContext(t.Context(), metadata.New("X-User", "ana", "trace-id", "t-1"))
		require.NoError(t, c.call(ctx, "greeter", "Greeter.Inspect", &HelloRequest{}, &HelloReply{}))
		in := <-g.seen
		require.True(t, in.hasMD)
		assert.Equal(t, metadata.MD{"X-User": "ana", "Trace-Id": "t-1"}, in.md, "only non-reserved headers")
		assert.False(t, in.hasDeadline)
	})
}

func TestTimeoutGivesHandlerADeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		g := &Greeter{seen: make(chan inspection, 1)}
		s := w.started(t, g)
		c := w.dial(t, s.Addr())

		ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
		defer cancel()
		require.NoError(t, c.call(ctx, "greeter", "Greeter.Inspect", &HelloRequest{}, &HelloReply{}))
		in := <-g.seen
		require.True(t, in.hasDeadline)
		assert.Equal(t, 1500*time.Millisecond, in.remaining)

		// The deadline really ends the handler: Sleep(5s) with 2s left.
		e := c.overrun(t, "Greeter.Sleep")
		assert.Equal(t, "greeter", e.ID)
	})
}

func TestExpiredTimeoutIsRefusedWithoutRunningTheHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		g := &Greeter{}
		s := w.started(t, g)
		c := w.dial(t, s.Addr())

		for _, timeout := range []string{"0", "-5"} {
			h := c.request(t.Context(), "greeter", "Greeter.Hello")
			h[wire.Timeout] = timeout
			reply, err := c.roundTrip(t.Context(), &transport.Message{Header: h, Body: []byte(`{"name":"ana"}`)})
			require.NoError(t, err)
			e := errors.FromHeader(reply.Header)
			require.NotNil(t, e, "timeout %s", timeout)
			assert.Equal(t, errors.DeadlineExceeded, e.Code)
			assert.Equal(t, "greeter", e.ID)
			assert.Contains(t, e.Detail, "Greeter.Hello")
		}
		assert.Zero(t, g.helloCalls(), "the handler must not run")
	})
}

// TestErrorReplies covers every error the server produces before running
// a handler, and the mapping of handler errors.
func TestErrorReplies(t *testing.T) {
	tests := []struct {
		name     string
		service  string
		endpoint string
		ct       string
		timeout  string
		body     string
		code     errors.Code
		id       string
		detail   []string
	}{
		{name: "unknown endpoint", service: "greeter", endpoint: "Greeter.Nope", code: errors.NotFound, id: "greeter", detail: []string{`"Greeter.Nope"`, `"greeter"`}},
		{name: "empty endpoint", service: "greeter", endpoint: "", code: errors.NotFound, id: "greeter", detail: []string{`endpoint ""`}},
		{name: "other service", service: "billing", endpoint: "Greeter.Hello", code: errors.NotFound, id: "greeter", detail: []string{`"billing"`, `"greeter"`}},
		{name: "unknown content type", service: "greeter", endpoint: "Greeter.Hello", ct: "application/x-nope", code: errors.BadRequest, id: "greeter", detail: []string{"application/x-nope", "Greeter.Hello"}},
		{name: "bad timeout header", service: "greeter", endpoint: "Greeter.Hello", timeout: "soon", code: errors.BadRequest, id: "greeter", detail: []string{"soon", wire.Timeout}},
		{name: "undecodable body", service: "greeter", endpoint: "Greeter.Hello", body: "{", code: errors.BadRequest, id: "greeter", detail: []string{"decode", "Greeter.Hello", codec.ContentTypeJSON}},
		{name: "handler panic", service: "greeter", endpoint: "Greeter.Panic", body: `{"name":"x"}`, code: errors.Internal, id: "greeter", detail: []string{"Greeter.Panic", "boom x"}},
		{name: "plain handler error", service: "greeter", endpoint: "Greeter.Fail", body: `{"name":"bob"}`, code: errors.Internal, id: "greeter", detail: []string{"cannot greet bob"}},
		{name: "framework error passes through", service: "greeter", endpoint: "Greeter.Conflict", body: `{"name":"bob"}`, code: errors.Conflict, id: "greeter.store", detail: []string{"bob exists"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				s := w.started(t, &Greeter{})
				c := w.dial(t, s.Addr())
				h := c.request(t.Context(), tc.service, tc.endpoint)
				if tc.ct != "" {
					h[wire.ContentType] = tc.ct
				}
				if tc.timeout != "" {
					h[wire.Timeout] = tc.timeout
				}
				reply, err := c.roundTrip(t.Context(), &transport.Message{Header: h, Body: []byte(tc.body)})
				require.NoError(t, err)
				e := errors.FromHeader(reply.Header)
				require.NotNil(t, e)
				assert.Equal(t, tc.code, e.Code, "%v", e)
				assert.Equal(t, tc.id, e.ID)
				for _, d := range tc.detail {
					assert.Contains(t, e.Detail, d)
				}
				assert.Empty(t, reply.Body)
			})
		})
	}
}

func TestPanicDoesNotStopTheServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s := w.started(t, &Greeter{})
		c := w.dial(t, s.Addr())
		for i := range 3 {
			err := c.call(t.Context(), "greeter", "Greeter.Panic", &HelloRequest{Name: "x"}, &HelloReply{})
			assert.Equal(t, errors.Internal, code(t, err), "call %d", i)
			var rsp HelloReply
			require.NoError(t, c.call(t.Context(), "greeter", "Greeter.Hello", &HelloRequest{Name: "ana"}, &rsp))
			assert.Equal(t, "hello ana", rsp.Greeting)
		}
	})
}

func TestReplyTooLarge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, memory.WithMaxMessageSize(64<<10))
		s := w.started(t, &Greeter{})
		c := w.dial(t, s.Addr())

		err := c.call(t.Context(), "greeter", "Greeter.Big", &HelloRequest{Name: strings.Repeat("n", 100)}, &HelloReply{})
		assert.Equal(t, errors.ResourceExhausted, code(t, err))
		assert.Contains(t, err.Error(), "Greeter.Big")

		var rsp HelloReply
		require.NoError(t, c.call(t.Context(), "greeter", "Greeter.Big", &HelloRequest{Name: "nn"}, &rsp))
		assert.Len(t, rsp.Greeting, 2<<10)
	})
}

func TestMaxConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s := w.started(t, &Greeter{}, server.WithMaxConcurrent(2))
		c := w.dial(t, s.Addr())

		start := time.Now()
		errs := make([]error, 5)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				errs[i] = c.call(t.Context(), "greeter", "Greeter.Sleep", &SleepRequest{Delay: time.Second}, &SleepReply{})
			})
		}
		wg.Wait()
		var ok, refused int
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			require.Equal(t, errors.Unavailable, code(t, err), "%v", err)
			assert.Contains(t, err.Error(), "server overloaded")
			assert.Equal(t, errors.RetrySafe, errors.CodeOf(err).Retry())
			refused++
		}
		assert.Equal(t, 2, ok)
		assert.Equal(t, 3, refused)
		assert.Equal(t, time.Second, time.Since(start))

		// The slots are free again.
		require.NoError(t, c.call(t.Context(), "greeter", "Greeter.Hello", &HelloRequest{}, &HelloReply{}))
	})
}

func TestHandlerWrappers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		var mu sync.Mutex
		var trace []string
		record := func(name string) server.HandlerWrapper {
			return func(next server.HandlerFunc) server.HandlerFunc {
				return func(ctx context.Context, req *server.Request, rsp any) error {
					mu.Lock()
					trace = append(trace, fmt.Sprintf("%s>%s.%s:%T:%v", name, req.Service, req.Endpoint, req.Body, req.Stream != nil))
					mu.Unlock()
					err := next(ctx, req, rsp)
					mu.Lock()
					trace = append(trace, name+"<")
					mu.Unlock()
					return err
				}
			}
		}
		deny := func(next server.HandlerFunc) server.HandlerFunc {
			return func(ctx context.Context, req *server.Request, rsp any) error {
				if req.Header["X-Token"] != "ok" {
					return errors.New("auth", errors.Unauthorized, "no token for %s", req.Endpoint)
				}
				return next(ctx, req, rsp)
			}
		}
		s := w.started(t, &Greeter{}, server.WithHandlerWrapper(record("outer"), record("inner")), server.WithHandlerWrapper(deny))
		c := w.dial(t, s.Addr())

		err := c.call(t.Context(), "greeter", "Greeter.Hello", &HelloRequest{Name: "a"}, &HelloReply{})
		assert.Equal(t, errors.Unauthorized, code(t, err))
		ctx := metadata.NewContext(t.Context(), metadata.New("X-Token", "ok"))
		var rsp HelloReply
		require.NoError(t, c.call(ctx, "greeter", "Greeter.Hello", &HelloRequest{Name: "a"}, &rsp))
		assert.Equal(t, "hello a", rsp.Greeting)

		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, []string{
			"outer>greeter.Greeter.Hello:*server_test.HelloRequest:false", "inner>greeter.Greeter.Hello:*server_test.HelloRequest:false", "inner<", "outer<",
			"outer>greeter.Greeter.Hello:*server_test.HelloRequest:false", "inner>greeter.Greeter.Hello:*server_test.HelloRequest:false", "inner<", "outer<",
		}, trace)
	})
}

func TestWrapperReplacingBodyGetsAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		swap := func(next server.HandlerFunc) server.HandlerFunc {
			return func(ctx context.Context, req *server.Request, rsp any) error {
				req.Body = "not a request"
				return next(ctx, req, rsp)
			}
		}
		s := w.started(t, &Greeter{}, server.WithHandlerWrapper(swap))
		c := w.dial(t, s.Addr())
		err := c.call(t.Context(), "greeter", "Greeter.Hello", &HelloRequest{}, &HelloReply{})
		assert.Equal(t, errors.Internal, code(t, err))
		assert.Contains(t, err.Error(), "string")
	})
}

func TestDialAfterStopIsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s := w.started(t, &Greeter{})
		addr := s.Addr()
		require.NoError(t, s.Stop(t.Context()))
		_, err := w.cliHost.Transport().Dial(t.Context(), addr)
		require.True(t, stderrors.Is(err, transport.ErrRefused), "%v", err)
		_, err = w.reg(w.cliHost).GetService(t.Context(), "greeter")
		require.ErrorIs(t, err, registry.ErrNotFound)
	})
}

func TestCallerGoneCancelsHandler(t *testing.T) {
	// Sleep waits on its ctx's Done channel; Nap on a ctxwake.Sleeper,
	// which is woken without the ctx being built.
	for _, endpoint := range []string{"Greeter.Sleep", "Greeter.Nap"} {
		t.Run(endpoint, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				g := &Greeter{}
				s := w.started(t, g)
				c := w.dial(t, s.Addr())

				sock, err := c.conn.NewStream(t.Context(), nil)
				require.NoError(t, err)
				m := &transport.Message{Header: c.request(t.Context(), "greeter", endpoint), Body: []byte(`{"delay":60000000000}`)}
				require.NoError(t, sock.Send(t.Context(), m))
				time.Sleep(time.Second) // the handler is sleeping its 60 s
				synctest.Wait()
				start := time.Now()
				require.NoError(t, sock.Close()) // the caller gives up

				// Stop drains in-flight calls: it returns at once only because the
				// abandoned handler was cancelled instead of sleeping on.
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				require.NoError(t, s.Stop(ctx))
				assert.Zero(t, time.Since(start), "the abandoned handler ended at once, not after its 60 s")
				if endpoint == "Greeter.Nap" {
					require.Equal(t, []nap{{ok: true, built: false, err: context.Canceled}}, g.napsSeen(),
						"the nap was cut short by the caller's leaving, and the ctx was never built")
				}
			})
		})
	}
}

// TestNapEndsAtTheDeadline: a handler sleeping on a ctxwake.Sleeper wakes
// at the request's deadline, with DeadlineExceeded (sent to the caller as
// such), and one that sleeps less than its deadline sleeps exactly its
// time; neither builds its ctx.
func TestNapEndsAtTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		g := &Greeter{}
		s := w.started(t, g)
		c := w.dial(t, s.Addr())

		c.overrun(t, "Greeter.Nap")

		start := time.Now()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		var rsp SleepReply
		require.NoError(t, c.call(ctx, "greeter", "Greeter.Nap", &SleepRequest{Delay: 300 * time.Millisecond}, &rsp))
		assert.Equal(t, 300*time.Millisecond, rsp.Slept)
		assert.Equal(t, 300*time.Millisecond, time.Since(start))

		require.Equal(t, []nap{{ok: true, err: context.DeadlineExceeded}, {ok: true}}, g.napsSeen())
	})
}

// TestHandlerMayKeepItsArguments: a unary call's request and response
// values, Request and ctx share one allocation; a handler that keeps them
// past its return (a background goroutine would) finds them intact, each
// call its own, after later calls and a GC, and the ctx ended.
func TestHandlerMayKeepItsArguments(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		type kept struct {
			ctx     context.Context
			req     *server.Request
			in, out *wrapperspb.StringValue
		}
		var all []kept
		keep := func(next server.HandlerFunc) server.HandlerFunc {
			return func(ctx context.Context, req *server.Request, rsp any) error {
				err := next(ctx, req, rsp)
				all = append(all, kept{ctx, req, req.Body.(*wrapperspb.StringValue), rsp.(*wrapperspb.StringValue)})
				return err
			}
		}
		s := w.server(t, nil, server.WithHandlerWrapper(keep))
		require.NoError(t, s.HandleFunc("Text.Keep", func(ctx context.Context, req *wrapperspb.StringValue, rsp *wrapperspb.StringValue) error {
			rsp.Value = "re:" + req.GetValue()
			return nil
		}))
		require.NoError(t, s.Start(t.Context()))
		c := w.dial(t, s.Addr())
		c.codec = codec.Proto()
		const n = 20
		for i := range n {
			ctx := metadata.NewContext(t.Context(), metadata.New("X-Call", fmt.Sprint(i)))
			require.NoError(t, c.call(ctx, "greeter", "Text.Keep", wrapperspb.String(fmt.Sprint(i)), &wrapperspb.StringValue{}))
		}
		runtime.GC()
		require.Len(t, all, n)
		for i, k := range all {
			assert.Equal(t, fmt.Sprint(i), k.in.GetValue())
			assert.Equal(t, "re:"+fmt.Sprint(i), k.out.GetValue())
			assert.Equal(t, "Text.Keep", k.req.Endpoint)
			assert.Equal(t, fmt.Sprint(i), k.req.Header["X-Call"])
			md, _ := metadata.FromContext(k.ctx)
			assert.Equal(t, fmt.Sprint(i), md["X-Call"])
			assert.Error(t, k.ctx.Err(), "the ctx ends with the call")
		}
	})
}

// pooledReq and pooledRsp have a field the JSON codec leaves alone when
// the request has none: a reused value would keep the last call's.
type pooledReq struct {
	N    int    `json:"n,omitempty"`
	Note string `json:"note,omitempty"`
}
type pooledRsp struct {
	Sum  int    `json:"sum"`
	Seen string `json:"seen"`
}

// Calls of a UnaryPooled endpoint, on two servers sharing one pool, each
// get zeroed arguments and an unended ctx, whatever the calls before left
// in them, and their replies carry their own values: a call's arguments
// go back to the pool only once its reply was sent.
func TestUnaryPooledServesEachCallFresh(t *testing.T) {
	w := newWorld(t)
	var pool server.ArgPool[pooledReq, pooledRsp]
	handler := func(ctx context.Context, req *pooledReq, rsp *pooledRsp) error {
		if rsp.Sum != 0 || rsp.Seen != "" {
			return fmt.Errorf("response not zeroed: %+v", *rsp)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ctx already ended: %w", err)
		}
		rsp.Sum, rsp.Seen = req.N+1, req.Note
		return nil
	}
	var clients []*rawClient
	for _, name := range []string{"a", "b"} {
		h := w.net.Host(name)
		s, err := server.New("pooled", h.Transport(), w.reg(h))
		require.NoError(t, err)
		require.NoError(t, s.HandleFunc("Pool.Add", server.UnaryPooled(handler, &pool)))
		require.NoError(t, s.Start(t.Context()))
		t.Cleanup(func() { _ = s.Stop(context.Background()) })
		clients = append(clients, w.dial(t, s.Addr()))
	}
	for i := range 200 {
		req := pooledReq{N: i}
		if i%2 == 0 {
			req.Note = fmt.Sprintf("call %d", i)
		}
		var rsp pooledRsp
		// Both servers get calls with and without a note, in turn.
		require.NoError(t, clients[i%3%2].call(t.Context(), "pooled", "Pool.Add", &req, &rsp), "call %d", i)
		require.Equal(t, pooledRsp{Sum: i + 1, Seen: req.Note}, rsp, "call %d", i)
	}
}
