package service_test

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/registry/registrymock"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/service"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/transportmock"
	"github.com/microsim/microsim/memory"
)

type HelloRequest struct {
	Name string `json:"name"`
}

type HelloReply struct {
	Greeting string `json:"greeting"`
}

type SleepRequest struct {
	Delay time.Duration `json:"delay"`
}

type Greeter struct{}

func (Greeter) Hello(ctx context.Context, req *HelloRequest, rsp *HelloReply) error {
	rsp.Greeting = "hello " + req.Name
	return nil
}

func (Greeter) Sleep(ctx context.Context, req *SleepRequest, rsp *HelloReply) error {
	select {
	case <-time.After(req.Delay):
		rsp.Greeting = "slept"
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Echo streams every message back until the client half-closes; "fail"
// ends it with a Conflict error.
func (Greeter) Echo(ctx context.Context, stream server.Stream) error {
	for {
		var m HelloRequest
		if err := stream.Recv(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if m.Name == "fail" {
			return errors.New("greeter", errors.Conflict, "refused %q", m.Name)
		}
		if err := stream.Send(&HelloReply{Greeting: m.Name}); err != nil {
			return err
		}
	}
}

func newNetwork(t *testing.T) *memory.Network {
	t.Helper()
	n := memory.MustNetwork()
	t.Cleanup(func() { n.Close() })
	return n
}

// newGreeter builds the "greeter" service on host h, serving Greeter.
func newGreeter(t *testing.T, h *memory.Host, opts ...service.Option) *service.Service {
	t.Helper()
	s, err := service.New("greeter", h.Transport(), h.Registry(), opts...)
	require.NoError(t, err)
	require.NoError(t, s.Handle(Greeter{}))
	return s
}

// waitRegistered blocks until the greeter service has a node.
func waitRegistered(t *testing.T, w registry.Watcher) {
	t.Helper()
	ev, err := w.Next(t.Context())
	require.NoError(t, err)
	require.Equal(t, registry.Create, ev.Type)
}

func watchGreeter(t *testing.T, reg registry.Registry) registry.Watcher {
	t.Helper()
	w, err := reg.Watch(t.Context(), registry.WatchService("greeter"))
	require.NoError(t, err)
	t.Cleanup(w.Stop)
	return w
}

func TestNewRejectsBadArguments(t *testing.T) {
	ctrl := gomock.NewController(t)
	tr := transportmock.NewMockTransport(ctrl)
	reg := registrymock.NewMockRegistry(ctrl)
	tests := []struct {
		name string
		svc  string
		tr   transport.Transport
		reg  registry.Registry
		opts []service.Option
		want []string
	}{
		{name: "empty name", svc: "", tr: tr, reg: reg, want: []string{"empty name"}},
		{name: "nil transport", svc: "greeter", reg: reg, want: []string{"nil transport"}},
		{name: "nil registry", svc: "greeter", tr: tr, want: []string{"nil registry"}},
		{name: "nil option", svc: "greeter", tr: tr, reg: reg, opts: []service.Option{nil}, want: []string{"nil option"}},
		{name: "nil selector", svc: "greeter", tr: tr, reg: reg, opts: []service.Option{service.WithSelector(nil)}, want: []string{"WithSelector"}},
		{name: "nil broker", svc: "greeter", tr: tr, reg: reg, opts: []service.Option{service.WithBroker(nil)}, want: []string{"WithBroker"}},
		{name: "zero shutdown timeout", svc: "greeter", tr: tr, reg: reg, opts: []service.Option{service.WithShutdownTimeout(0)}, want: []string{"WithShutdownTimeout"}},
		{name: "nil logger", svc: "greeter", tr: tr, reg: reg, opts: []service.Option{service.WithLogger(nil)}, want: []string{"WithLogger"}},
		{name: "nil signal", svc: "greeter", tr: tr, reg: reg, opts: []service.Option{service.WithSignals(nil)}, want: []string{"WithSignals"}},
		{name: "bad server option", svc: "greeter", tr: tr, reg: reg, opts: []service.Option{service.WithServerOptions(server.WithMaxConcurrent(-1))}, want: []string{"WithMaxConcurrent"}},
		{name: "bad client option", svc: "greeter", tr: tr, reg: reg, opts: []service.Option{service.WithClientOptions(client.WithPoolSize(0))}, want: []string{"pool size"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := service.New(tc.svc, tc.tr, tc.reg, tc.opts...)
			require.Error(t, err)
			assert.Nil(t, s)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestAccessorsAndStopBeforeStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNetwork(t)
		s := newGreeter(t, n.Host("a"))
		assert.Equal(t, "greeter", s.Name())
		assert.NotNil(t, s.Server())
		assert.NotNil(t, s.Client())
		require.NoError(t, s.Stop(t.Context()))
		require.NoError(t, s.Stop(t.Context()), "Stop is idempotent")
		err := s.Client().Call(t.Context(), "greeter", "Greeter.Hello", &HelloRequest{}, &HelloReply{})
		assert.ErrorIs(t, err, client.ErrClosed, "Stop closes the client")
	})
}

// TestClientCallsThroughTheService: one service calls another with its
// client, over the memory network, and Run shuts both down when ctx ends.
func TestClientCallsThroughTheService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNetwork(t)
		greeter := newGreeter(t, n.Host("a"), service.WithSignals())
		caller, err := service.New("caller", n.Host("b").Transport(), n.Host("b").Registry(), service.WithSignals())
		require.NoError(t, err)

		ctx, cancel := context.WithCancel(t.Context())
		watch := watchGreeter(t, n.Host("b").Registry())
		var runs sync.WaitGroup
		runErrs := make([]error, 2)
		for i, s := range []*service.Service{greeter, caller} {
			runs.Go(func() { runErrs[i] = s.Run(ctx) })
		}
		waitRegistered(t, watch)

		var rsp HelloReply
		require.NoError(t, caller.Client().Call(t.Context(), "greeter", "Greeter.Hello", &HelloRequest{Name: "ana"}, &rsp))
		assert.Equal(t, "hello ana", rsp.Greeting)

		// Both Runs must be past Start (registered, waiting for a signal or
		// ctx) before the cancel, or the caller's Start sees it.
		synctest.Wait()
		cancel()
		runs.Wait()
		assert.NoError(t, runErrs[0])
		assert.NoError(t, runErrs[1])
		_, err = n.Host("b").Registry().GetService(t.Context(), "greeter")
		assert.ErrorIs(t, err, registry.ErrNotFound, "Run deregistered the node")
	})
}

// TestClientStreamThroughTheService checks the streaming wire protocol
// between the real client and the server: data messages, the trailer, and
// an error in the trailer.
func TestClientStreamThroughTheService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNetwork(t)
		s := newGreeter(t, n.Host("a"), service.WithSignals())
		require.NoError(t, s.Start(t.Context()))
		defer s.Stop(context.Background())

		st, err := s.Client().Stream(t.Context(), "greeter", "Greeter.Echo")
		require.NoError(t, err)
		defer st.Close()
		for _, name := range []string{"a", "b"} {
			require.NoError(t, st.Send(&HelloRequest{Name: name}))
			var rsp HelloReply
			require.NoError(t, st.Recv(&rsp))
			assert.Equal(t, name, rsp.Greeting)
		}
		require.NoError(t, st.CloseSend())
		assert.ErrorIs(t, st.Recv(&HelloReply{}), io.EOF)

		st2, err := s.Client().Stream(t.Context(), "greeter", "Greeter.Echo")
		require.NoError(t, err)
		defer st2.Close()
		require.NoError(t, st2.Send(&HelloRequest{Name: "fail"}))
		err = st2.Recv(&HelloReply{})
		assert.Equal(t, errors.Conflict, errors.CodeOf(err), "%v", err)

		// Unknown endpoints fail at once, for calls and streams alike.
		err = s.Client().Call(t.Context(), "greeter", "Greeter.Nope", &HelloRequest{}, &HelloReply{})
		assert.Equal(t, errors.NotFound, errors.CodeOf(err), "%v", err)
		st3, err := s.Client().Stream(t.Context(), "greeter", "Greeter.Nope")
		require.NoError(t, err)
		defer st3.Close()
		err = st3.Recv(&HelloReply{})
		assert.Equal(t, errors.NotFound, errors.CodeOf(err), "%v", err)
	})
}

// TestOverloadedNodeIsRetriedElsewhere: a node at its MaxConcurrent limit
// refuses with Unavailable and the real client retries on the other node.
func TestOverloadedNodeIsRetriedElsewhere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNetwork(t)
		busy := newGreeter(t, n.Host("a"), service.WithSignals(), service.WithServerOptions(server.WithMaxConcurrent(1)))
		free := newGreeter(t, n.Host("b"), service.WithSignals())
		for _, s := range []*service.Service{busy, free} {
			require.NoError(t, s.Start(t.Context()))
			defer s.Stop(context.Background())
		}
		caller, err := service.New("caller", n.Host("c").Transport(), n.Host("c").Registry(), service.WithSignals())
		require.NoError(t, err)
		defer caller.Stop(context.Background())

		start := time.Now()
		errs := make([]error, 4)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				errs[i] = caller.Client().Call(t.Context(), "greeter", "Greeter.Sleep", &SleepRequest{Delay: time.Second}, &HelloReply{})
			})
		}
		wg.Wait()
		for _, err := range errs {
			assert.NoError(t, err)
		}
		// Refusals are immediate; a retry waits only the client's short backoff.
		assert.Less(t, time.Since(start), 1100*time.Millisecond)
	})
}

func TestRunDrainsWithinShutdownTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNetwork(t)
		s := newGreeter(t, n.Host("a"), service.WithSignals(), service.WithShutdownTimeout(5*time.Second))
		caller, err := service.New("caller", n.Host("b").Transport(), n.Host("b").Registry(), service.WithSignals())
		require.NoError(t, err)
		defer caller.Stop(context.Background())

		ctx, cancel := context.WithCancel(t.Context())
		watch := watchGreeter(t, n.Host("b").Registry())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		waitRegistered(t, watch)

		reply := make(chan error, 1)
		go func() {
			reply <- caller.Client().Call(t.Context(), "greeter", "Greeter.Sleep", &SleepRequest{Delay: 2 * time.Second}, &HelloReply{})
		}()
		synctest.Wait() // the call is in its handler
		start := time.Now()
		cancel()
		require.NoError(t, <-done)
		assert.Equal(t, 2*time.Second, time.Since(start), "Run waited for the in-flight call")
		require.NoError(t, <-reply)
	})
}

func TestRunReportsAbandonedRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNetwork(t)
		s := newGreeter(t, n.Host("a"), service.WithSignals(), service.WithShutdownTimeout(time.Second))
		caller, err := service.New("caller", n.Host("b").Transport(), n.Host("b").Registry(), service.WithSignals())
		require.NoError(t, err)
		defer caller.Stop(context.Background())

		ctx, cancel := context.WithCancel(t.Context())
		watch := watchGreeter(t, n.Host("b").Registry())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		waitRegistered(t, watch)

		reply := make(chan error, 1)
		go func() {
			reply <- caller.Client().Call(t.Context(), "greeter", "Greeter.Sleep", &SleepRequest{Delay: time.Hour}, &HelloReply{},
				client.WithCallRetry(client.RetryFunc(func(context.Context, *client.Request, int, error) (time.Duration, bool) { return 0, false })))
		}()
		synctest.Wait()
		start := time.Now()
		cancel()
		err = <-done
		require.ErrorIs(t, err, server.ErrAbandoned)
		assert.Contains(t, err.Error(), "1 request still in flight")
		// The drain ended a tenth of the budget early: the cancelled
		// handler replied that the server stopped.
		assert.Equal(t, 900*time.Millisecond, time.Since(start))
		rerr := <-reply
		require.Error(t, rerr)
		assert.Contains(t, rerr.Error(), "interrupted: handler Greeter.Sleep: the server stopped before it finished")
	})
}

func TestRunFailsWhenStartFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNetwork(t)
		h := n.Host("a")
		first := newGreeter(t, h, service.WithServerOptions(server.WithAddress("a:80")))
		require.NoError(t, first.Start(t.Context()))
		defer first.Stop(context.Background())

		second := newGreeter(t, h, service.WithSignals(), service.WithServerOptions(server.WithAddress("a:80")))
		err := second.Run(t.Context())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "a:80")
		err = second.Client().Call(t.Context(), "greeter", "Greeter.Hello", &HelloRequest{}, &HelloReply{})
		assert.ErrorIs(t, err, client.ErrClosed, "a failed Run closes the client")
	})
}

// countingSelector counts Close calls of the selector it wraps.
type countingSelector struct {
	selector.Selector
	closes atomic.Int32
}

func (s *countingSelector) Close() error {
	s.closes.Add(1)
	return s.Selector.Close()
}

func TestGivenSelectorIsNotClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNetwork(t)
		h := n.Host("a")
		inner, err := selector.New(h.Registry())
		require.NoError(t, err)
		defer inner.Close()
		sel := &countingSelector{Selector: inner}
		s := newGreeter(t, h, service.WithSelector(sel), service.WithSignals())
		require.NoError(t, s.Start(t.Context()))
		var rsp HelloReply
		require.NoError(t, s.Client().Call(t.Context(), "greeter", "Greeter.Hello", &HelloRequest{Name: "me"}, &rsp))
		assert.Equal(t, "hello me", rsp.Greeting)
		require.NoError(t, s.Stop(t.Context()))
		assert.Zero(t, sel.closes.Load())
	})
}

func TestBrokerReachesServerAndClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNetwork(t)
		h := n.Host("a")
		b := h.Broker()
		defer b.Close()
		s := newGreeter(t, h, service.WithBroker(b), service.WithSignals())
		got := make(chan string, 1)
		require.NoError(t, s.Subscribe("greetings", func(ctx context.Context, m *HelloRequest) error {
			got <- m.Name
			return nil
		}))
		require.NoError(t, s.Start(t.Context()))
		defer s.Stop(context.Background())
		require.NoError(t, s.Client().Publish(t.Context(), "greetings", &HelloRequest{Name: "event"}))
		assert.Equal(t, "event", <-got)
	})
}
