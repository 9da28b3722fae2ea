package tracing_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/service"
	"github.com/microsim/microsim/memory"
	"github.com/microsim/microsim/observe/tracing"
)

// Hop is a handler that calls the next service of a chain, if any, and
// replies with the path so far.
type Hop struct {
	name string
	next string
	cli  func() client.Client
}

func (h *Hop) Say(ctx context.Context, req *EchoRequest, rsp *EchoReply) error {
	if h.next == "" {
		rsp.Text = req.Text + ">" + h.name
		return nil
	}
	var sub EchoReply
	if err := h.cli().Call(ctx, h.next, "Hop.Say", &EchoRequest{Text: req.Text + ">" + h.name}, &sub); err != nil {
		return err
	}
	rsp.Text = sub.Text
	return nil
}

// startHop starts service name on its own host of net, calling next.
func startHop(t *testing.T, net *memory.Network, name, next string, opts ...service.Option) {
	t.Helper()
	h := net.Host(name)
	hop := &Hop{name: name, next: next}
	svc, err := service.New(name, h.Transport(), h.Registry(), append([]service.Option{service.WithSignals()}, opts...)...)
	require.NoError(t, err)
	hop.cli = svc.Client
	require.NoError(t, svc.Handle(hop))
	require.NoError(t, svc.Start(context.Background()))
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })
}

func traceAll(r *recorder) []service.Option { return []service.Option{tracing.ServiceOption(r.tp)} }
func traceNone(*recorder) []service.Option  { return nil }
func traceServer(r *recorder) []service.Option {
	return []service.Option{service.WithServerOptions(tracing.ServerOption(r.tp))}
}

// A caller -> a -> b -> c chain, each service traced: one trace, and each
// span's parent is the one before it: call, attempt, server, call,
// attempt, server, ...
func TestTraceCrossesThreeServices(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    func(*recorder) []service.Option
		want []string // the chain of span names and kinds below the caller's call span
	}{
		{"every service traced", traceAll, []string{
			"a/Hop.Say client", "a/Hop.Say server",
			"b/Hop.Say internal", "b/Hop.Say client", "b/Hop.Say server",
			"c/Hop.Say internal", "c/Hop.Say client", "c/Hop.Say server"}},
		// b traces nothing, but forwards the request metadata of its
		// handler's ctx: c's server span is a child of a's attempt span.
		{"b untraced", traceNone, []string{
			"a/Hop.Say client", "a/Hop.Say server",
			"b/Hop.Say internal", "b/Hop.Say client",
			"c/Hop.Say server"}},
		// b traces its server only: its handler's ctx metadata carries its
		// server span's context, so c's server span is a child of it.
		{"b's server traced, not its client", traceServer, []string{
			"a/Hop.Say client", "a/Hop.Say server",
			"b/Hop.Say internal", "b/Hop.Say client", "b/Hop.Say server",
			"c/Hop.Say server"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := newRecorder(t)
				net := newNetwork(t)
				traced := tracing.ServiceOption(rec.tp)
				startHop(t, net, "c", "", traced)
				startHop(t, net, "b", "c", tc.b(rec)...)
				startHop(t, net, "a", "b", traced)
				cli := newClient(t, net, tracing.ClientOption(rec.tp))

				var rsp EchoReply
				require.NoError(t, cli.Call(context.Background(), "a", "Hop.Say", &EchoRequest{Text: "go"}, &rsp))
				assert.Equal(t, "go>a>b>c", rsp.Text)

				roots := rec.named("a/Hop.Say", trace.SpanKindInternal)
				require.Len(t, roots, 1)
				root := roots[0]
				assert.False(t, root.Parent().IsValid())
				var got []string
				for s := root; ; {
					kids := rec.children(s)
					if len(kids) == 0 {
						break
					}
					require.Len(t, kids, 1, "span %s has one child", s.Name())
					s = kids[0]
					got = append(got, s.Name()+" "+s.SpanKind().String())
					assert.Equal(t, root.SpanContext().TraceID(), s.SpanContext().TraceID(), "one trace id")
					if s.SpanKind() == trace.SpanKindServer {
						assert.True(t, s.Parent().IsRemote(), "a server span's parent comes over the wire")
					}
				}
				assert.Equal(t, tc.want, got)
				assert.Len(t, rec.Ended(), len(tc.want)+1, "no span outside the chain")
				for _, s := range rec.Ended() {
					assert.Equal(t, "ok", attr(s, tracing.AttrCode), s.Name())
				}
			})
		})
	}
}
