package tracing_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/memory"
	"github.com/microsim/microsim/observe/internal/echo"
)

// recorder is a TracerProvider whose ended spans are kept in memory.
type recorder struct {
	*tracetest.SpanRecorder
	tp *sdktrace.TracerProvider
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return &recorder{SpanRecorder: sr, tp: tp}
}

// named returns the ended spans named name, of kind kind, in end order.
func (r *recorder) named(name string, kind trace.SpanKind) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.Ended() {
		if s.Name() == name && s.SpanKind() == kind {
			out = append(out, s)
		}
	}
	return out
}

// children returns the ended spans whose parent is p, in start order.
func (r *recorder) children(p sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.Ended() {
		if s.Parent().SpanID() == p.SpanContext().SpanID() {
			out = append(out, s)
		}
	}
	for i := 1; i < len(out); i++ { // few spans: insertion sort by start
		for j := i; j > 0 && out[j].StartTime().Before(out[j-1].StartTime()); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// attr returns the value of key on s ("" when s has none).
func attr(s sdktrace.ReadOnlySpan, key attribute.Key) string {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

// echoCluster starts n "echo" servers, node IDs echo-a, echo-b, ..., each
// on a host of its own (hosts[i]), with opts.
func echoCluster(t *testing.T, net *memory.Network, n int, opts ...server.Option) []*memory.Host {
	t.Helper()
	var hosts []*memory.Host
	for i := range n {
		id := fmt.Sprintf("echo-%c", 'a'+i)
		h := net.Host(id)
		s, err := server.New("echo", h.Transport(), h.Registry(), append([]server.Option{server.WithID(id)}, opts...)...)
		require.NoError(t, err)
		require.NoError(t, s.Handle(Echo{}))
		require.NoError(t, s.Start(context.Background()))
		t.Cleanup(func() { _ = s.Stop(context.Background()) })
		hosts = append(hosts, h)
	}
	return hosts
}

// newClient returns a client on host "client" of net with opts.
func newClient(t *testing.T, net *memory.Network, opts ...client.Option) client.Client {
	t.Helper()
	h := net.Host("client")
	sel, err := selector.New(h.Registry())
	require.NoError(t, err)
	t.Cleanup(func() { _ = sel.Close() })
	c, err := client.New(sel, h.Transport(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newNetwork(t *testing.T) *memory.Network {
	t.Helper()
	n := memory.MustNetwork()
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// fromA makes a call's retries start at node echo-a: a fresh round robin
// over the nodes in ID order.
func fromA() client.CallOption {
	return client.WithSelectOption(selector.WithStrategy(selector.RoundRobin()))
}

type (
	Echo        = echo.Echo
	EchoRequest = echo.Request
	EchoReply   = echo.Reply
)
