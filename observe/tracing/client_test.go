package tracing_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/observe/tracing"
)

// A call whose first attempt goes to a crashed node (still registered)
// and whose retry succeeds on the other: one call span with two attempt
// spans, the first on the crashed node.
func TestCrashedNodeRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(t)
		net := newNetwork(t)
		hosts := echoCluster(t, net, 2)
		c := newClient(t, net, tracing.ClientOption(rec.tp))
		hosts[0].Crash()

		start := time.Now()
		var rsp EchoReply
		require.NoError(t, c.Call(context.Background(), "echo", "Echo.Say", &EchoRequest{Text: "hi"}, &rsp, fromA()))
		require.Equal(t, "hi", rsp.Text)

		calls := rec.named("echo/Echo.Say", trace.SpanKindInternal)
		require.Len(t, calls, 1, "one call span")
		call := calls[0]
		assert.Equal(t, "ok", attr(call, tracing.AttrCode))
		assert.Equal(t, codes.Unset, call.Status().Code)
		assert.False(t, call.Parent().IsValid(), "the call span is a root")

		attempts := rec.children(call)
		require.Len(t, attempts, 2, "two attempt spans under the call")
		first, retry := attempts[0], attempts[1]
		for _, a := range attempts {
			assert.Equal(t, trace.SpanKindClient, a.SpanKind())
			assert.Equal(t, call.SpanContext().TraceID(), a.SpanContext().TraceID())
		}
		assert.Equal(t, "1", attr(first, tracing.AttrAttempt))
		assert.Equal(t, client.AttemptFirst, attr(first, tracing.AttrAttemptKind))
		assert.Equal(t, "echo-a", attr(first, tracing.AttrNodeID), "the first attempt went to the crashed node")
		assert.Equal(t, errors.Unavailable.String(), attr(first, tracing.AttrCode))
		assert.Equal(t, codes.Error, first.Status().Code)

		assert.Equal(t, "2", attr(retry, tracing.AttrAttempt))
		assert.Equal(t, client.AttemptRetry, attr(retry, tracing.AttrAttemptKind))
		assert.Equal(t, "echo-b", attr(retry, tracing.AttrNodeID))
		assert.Equal(t, "ok", attr(retry, tracing.AttrCode))
		assert.NotEmpty(t, attr(retry, tracing.AttrServerAddress))

		// Timestamps are the bubble's virtual clock: the spans lie within
		// the call, the retry after its backoff.
		assert.False(t, call.StartTime().Before(start))
		assert.False(t, retry.StartTime().Before(first.EndTime()))
		assert.False(t, call.EndTime().Before(retry.EndTime()))
	})
}

// A hedged call: the hedge leaves after 50 ms, the first attempt answers
// at 100 ms, and the hedge, which lost, ends Canceled.
func TestHedgeSpans(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(t)
		net := newNetwork(t)
		echoCluster(t, net, 2)
		c := newClient(t, net, tracing.ClientOption(rec.tp),
			client.WithHedging(client.HedgePolicy{Delay: 50 * time.Millisecond, MaxHedges: 1}))
		require.NoError(t, c.Call(context.Background(), "echo", "Echo.Say", &EchoRequest{Text: "x", Sleep: 100 * time.Millisecond}, &EchoReply{},
			client.WithIdempotent(), fromA()))
		call := rec.named("echo/Echo.Say", trace.SpanKindInternal)[0]
		attempts := rec.children(call)
		require.Len(t, attempts, 2)
		assert.Equal(t, client.AttemptFirst, attr(attempts[0], tracing.AttrAttemptKind))
		assert.Equal(t, client.AttemptHedge, attr(attempts[1], tracing.AttrAttemptKind))
		assert.Equal(t, "2", attr(attempts[1], tracing.AttrAttempt))
		assert.Equal(t, 50*time.Millisecond, attempts[1].StartTime().Sub(attempts[0].StartTime()), "the hedge left after the hedge delay")
		assert.Equal(t, "ok", attr(attempts[0], tracing.AttrCode), "the first attempt answered first")
		assert.Equal(t, errors.Canceled.String(), attr(attempts[1], tracing.AttrCode), "the hedge lost and was cancelled")
	})
}

func TestNilTracerProvider(t *testing.T) {
	_, err := tracing.New(nil)
	assert.ErrorIs(t, err, tracing.ErrNilTracerProvider)
	synctest.Test(t, func(t *testing.T) {
		net := newNetwork(t)
		h := net.Host("x")
		_, err := server.New("x", h.Transport(), h.Registry(), tracing.ServerOption(nil))
		assert.ErrorIs(t, err, tracing.ErrNilTracerProvider)
	})
	_, err = tracing.New(newRecorder(t).tp, tracing.WithPropagator(nil))
	assert.ErrorContains(t, err, "nil propagator")
}
