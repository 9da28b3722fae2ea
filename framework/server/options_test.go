package server_test

import (
	"context"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"github.com/microsim/microsim/framework/broker/brokermock"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/registry/registrymock"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/transportmock"
)

func TestNewRejectsBadArguments(t *testing.T) {
	ctrl := gomock.NewController(t)
	tr := transportmock.NewMockTransport(ctrl)
	reg := registrymock.NewMockRegistry(ctrl)
	tests := []struct {
		name string
		svc  string
		nilT bool
		nilR bool
		opts []server.Option
		want []string // substrings of the error
	}{
		{name: "empty name", svc: "", want: []string{"empty service name"}},
		{name: "nil transport", svc: "greeter", nilT: true, want: []string{"nil transport"}},
		{name: "nil registry", svc: "greeter", nilR: true, want: []string{"nil registry"}},
		{name: "nil option", svc: "greeter", opts: []server.Option{nil}, want: []string{"nil option"}},
		{name: "empty ID", svc: "greeter", opts: []server.Option{server.WithID("")}, want: []string{"WithID"}},
		{name: "empty version", svc: "greeter", opts: []server.Option{server.WithVersion("")}, want: []string{"WithVersion"}},
		{name: "empty metadata key", svc: "greeter", opts: []server.Option{server.WithMetadata(map[string]string{"": "x"})}, want: []string{"WithMetadata"}},
		{name: "zero TTL", svc: "greeter", opts: []server.Option{server.WithRegisterTTL(0)}, want: []string{"WithRegisterTTL", "0s"}},
		{name: "negative interval", svc: "greeter", opts: []server.Option{server.WithRegisterInterval(-time.Second)}, want: []string{"WithRegisterInterval", "-1s"}},
		{name: "interval not below TTL", svc: "greeter", opts: []server.Option{server.WithRegisterTTL(3 * time.Second), server.WithRegisterInterval(3 * time.Second)}, want: []string{"WithRegisterInterval", "3s"}},
		{name: "nil codecs", svc: "greeter", opts: []server.Option{server.WithCodecs(nil)}, want: []string{"WithCodecs"}},
		{name: "nil broker", svc: "greeter", opts: []server.Option{server.WithBroker(nil)}, want: []string{"WithBroker"}},
		{name: "nil handler wrapper", svc: "greeter", opts: []server.Option{server.WithHandlerWrapper(nil)}, want: []string{"WithHandlerWrapper"}},
		{name: "nil subscriber wrapper", svc: "greeter", opts: []server.Option{server.WithSubscriberWrapper(nil)}, want: []string{"WithSubscriberWrapper"}},
		{name: "negative max concurrent", svc: "greeter", opts: []server.Option{server.WithMaxConcurrent(-1)}, want: []string{"WithMaxConcurrent", "-1"}},
		{name: "nil logger", svc: "greeter", opts: []server.Option{server.WithLogger(nil)}, want: []string{"WithLogger"}},
		{name: "nil heartbeater", svc: "greeter", opts: []server.Option{server.WithHeartbeater(nil)}, want: []string{"WithHeartbeater"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ttr transport.Transport = tr
			var rreg registry.Registry = reg
			if tc.nilT {
				ttr = nil
			}
			if tc.nilR {
				rreg = nil
			}
			s, err := server.New(tc.svc, ttr, rreg, tc.opts...)
			require.Error(t, err)
			assert.Nil(t, s)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestNewAcceptsValidOptions(t *testing.T) {
	ctrl := gomock.NewController(t)
	s, err := server.New("greeter", transportmock.NewMockTransport(ctrl), registrymock.NewMockRegistry(ctrl),
		server.WithAddress("127.0.0.1:0"), server.WithID("g-1"), server.WithVersion("1.2.3"),
		server.WithMetadata(map[string]string{"zone": "a"}), server.WithRegisterTTL(time.Minute),
		server.WithRegisterInterval(time.Second), server.WithMaxConcurrent(10),
		server.WithBroker(brokermock.NewMockBroker(ctrl)), server.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	assert.Empty(t, s.Addr())
	assert.Nil(t, s.Node())
	// Stop before Start does nothing (the mocks expect no call).
	require.NoError(t, s.Stop(context.Background()))
}

// Handler types with wrong methods.
type badArgs struct{}

func (badArgs) Hello(ctx context.Context, req HelloRequest, rsp *HelloReply) error { return nil }

type badResult struct{}

func (*badResult) Hello(ctx context.Context, req *HelloRequest, rsp *HelloReply) (int, error) {
	return 0, nil
}

type noCtx struct{}

func (*noCtx) Hello(req *HelloRequest, rsp *HelloReply) error { return nil }

type badStream struct{}

func (*badStream) Chat(ctx context.Context, stream any) error { return nil }

type noMethods struct{}

type unexportedOnly struct{}

// hello is never called: Handle must refuse a type whose only method is
// unexported.
//
//lint:ignore U1000 the fixture's point is an unexported method
func (*unexportedOnly) hello(ctx context.Context, req *HelloRequest, rsp *HelloReply) error {
	return nil
}

func TestHandleRejectsBadHandlers(t *testing.T) {
	ctrl := gomock.NewController(t)
	newServer := func(t *testing.T) server.Server {
		s, err := server.New("greeter", transportmock.NewMockTransport(ctrl), registrymock.NewMockRegistry(ctrl))
		require.NoError(t, err)
		return s
	}
	var nilGreeter *Greeter
	tests := []struct {
		name string
		h    any
		opts []server.HandleOption
		want []string
	}{
		{name: "nil", h: nil, want: []string{"Handle(nil)", "accepted signatures"}},
		{name: "nil pointer", h: nilGreeter, want: []string{"*server_test.Greeter", "nil"}},
		{name: "no methods", h: &noMethods{}, want: []string{"*server_test.noMethods", "no exported method", "accepted signatures"}},
		{name: "only unexported methods", h: &unexportedOnly{}, want: []string{"unexportedOnly", "no exported method"}},
		{name: "request not a pointer", h: badArgs{}, want: []string{"server_test.badArgs.Hello", "accepted signatures"}},
		{name: "two results", h: &badResult{}, want: []string{"*server_test.badResult.Hello", "(int, error)", "accepted signatures"}},
		{name: "no ctx", h: &noCtx{}, want: []string{"*server_test.noCtx.Hello", "accepted signatures"}},
		{name: "stream not server.Stream", h: &badStream{}, want: []string{"*server_test.badStream.Chat", "accepted signatures"}},
		{name: "unnamed type", h: func() {}, want: []string{"has no name", "HandleName"}},
		{name: "empty HandleName", h: &Greeter{}, opts: []server.HandleOption{server.HandleName("")}, want: []string{"HandleName", "empty"}},
		{name: "HandleName with a dot", h: &Greeter{}, opts: []server.HandleOption{server.HandleName("a.b")}, want: []string{"HandleName", "dot"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := newServer(t).Handle(tc.h, tc.opts...)
			require.ErrorIs(t, err, server.ErrInvalidHandler)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}

	t.Run("name registered twice", func(t *testing.T) {
		s := newServer(t)
		require.NoError(t, s.Handle(&Greeter{}))
		err := s.Handle(&Greeter{})
		require.ErrorIs(t, err, server.ErrInvalidHandler)
		assert.Contains(t, err.Error(), `"Greeter" is already registered`)
		require.NoError(t, s.Handle(&Greeter{}, server.HandleName("Greeter2")))
	})
	t.Run("name used by HandleFunc", func(t *testing.T) {
		s := newServer(t)
		require.NoError(t, s.HandleFunc("Greeter.Hi", (&Greeter{}).Hello))
		err := s.Handle(&Greeter{})
		require.ErrorIs(t, err, server.ErrInvalidHandler)
		assert.Contains(t, err.Error(), `"Greeter.Hi"`)
	})
}

func TestHandleFuncRejectsBadFunctions(t *testing.T) {
	ctrl := gomock.NewController(t)
	s, err := server.New("greeter", transportmock.NewMockTransport(ctrl), registrymock.NewMockRegistry(ctrl))
	require.NoError(t, err)
	var nilFn func(context.Context, *HelloRequest, *HelloReply) error
	tests := []struct {
		name     string
		endpoint string
		fn       any
		want     []string
	}{
		{name: "no dot", endpoint: "Hello", fn: (&Greeter{}).Hello, want: []string{`"Hello"`, "Svc.Method"}},
		{name: "empty method", endpoint: "Greeter.", fn: (&Greeter{}).Hello, want: []string{"Svc.Method"}},
		{name: "two dots", endpoint: "a.b.c", fn: (&Greeter{}).Hello, want: []string{"Svc.Method"}},
		{name: "nil", endpoint: "G.Hello", fn: nil, want: []string{"nil function", "accepted signatures"}},
		{name: "nil func", endpoint: "G.Hello", fn: nilFn, want: []string{"nil function"}},
		{name: "not a func", endpoint: "G.Hello", fn: 42, want: []string{`HandleFunc("G.Hello")`, "int", "accepted signatures"}},
		{name: "wrong args", endpoint: "G.Hello", fn: func(ctx context.Context, s string) error { return nil }, want: []string{"func(context.Context, string) error", "accepted signatures"}},
		{name: "nil pool", endpoint: "G.Hello", fn: server.UnaryPooled((&Greeter{}).Hello, nil), want: []string{`HandleFunc("G.Hello")`, "nil ArgPool"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.HandleFunc(tc.endpoint, tc.fn)
			require.ErrorIs(t, err, server.ErrInvalidHandler)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	t.Run("registered twice", func(t *testing.T) {
		require.NoError(t, s.HandleFunc("G.Hello", (&Greeter{}).Hello))
		err := s.HandleFunc("G.Hello", (&Greeter{}).Hello)
		require.ErrorIs(t, err, server.ErrInvalidHandler)
		assert.Contains(t, err.Error(), "already registered")
	})
}

func TestSubscribeRejectsBadSubscribers(t *testing.T) {
	ctrl := gomock.NewController(t)
	noBroker, err := server.New("greeter", transportmock.NewMockTransport(ctrl), registrymock.NewMockRegistry(ctrl))
	require.NoError(t, err)
	err = noBroker.Subscribe("events", func(context.Context, *HelloRequest) error { return nil })
	require.ErrorIs(t, err, server.ErrNoBroker)
	assert.Contains(t, err.Error(), "WithBroker")

	s, err := server.New("greeter", transportmock.NewMockTransport(ctrl), registrymock.NewMockRegistry(ctrl),
		server.WithBroker(brokermock.NewMockBroker(ctrl)))
	require.NoError(t, err)
	tests := []struct {
		name  string
		topic string
		fn    any
		opts  []server.SubscribeOption
		want  []string
	}{
		{name: "empty topic", topic: "", fn: func(context.Context, *HelloRequest) error { return nil }, want: []string{"empty topic"}},
		{name: "nil fn", topic: "t", fn: nil, want: []string{"nil function", "accepted signature"}},
		{name: "value arg", topic: "t", fn: func(context.Context, HelloRequest) error { return nil }, want: []string{"func(context.Context, server_test.HelloRequest) error", "accepted signature"}},
		{name: "no ctx", topic: "t", fn: func(*HelloRequest) error { return nil }, want: []string{"accepted signature"}},
		{name: "no error", topic: "t", fn: func(context.Context, *HelloRequest) {}, want: []string{"accepted signature"}},
		{name: "empty queue", topic: "t", fn: func(context.Context, *HelloRequest) error { return nil }, opts: []server.SubscribeOption{server.SubscribeQueue("")}, want: []string{"SubscribeQueue"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Subscribe(tc.topic, tc.fn, tc.opts...)
			require.ErrorIs(t, err, server.ErrInvalidHandler)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestStartTwiceAndHandleAfterStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s := w.started(t, &Greeter{})

		err := s.Start(t.Context())
		require.ErrorIs(t, err, server.ErrStarted)
		assert.Contains(t, err.Error(), "greeter")

		err = s.Handle(&Greeter{}, server.HandleName("Other"))
		require.ErrorIs(t, err, server.ErrStarted)
		assert.Contains(t, err.Error(), "*server_test.Greeter")

		err = s.HandleFunc("Other.Hello", (&Greeter{}).Hello)
		require.ErrorIs(t, err, server.ErrStarted)
		assert.Contains(t, err.Error(), "Other.Hello")

		require.NoError(t, s.Stop(t.Context()))
		require.NoError(t, s.Stop(t.Context()), "Stop is idempotent")
		require.ErrorIs(t, s.Start(t.Context()), server.ErrStopped)
	})
}
