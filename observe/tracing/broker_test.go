package tracing_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/observe/tracing"
)

type Event struct{ N int }

// An event published inside a span: publish span under it, consumer span
// under the publish span, through the memory broker.
func TestTraceCrossesTheBroker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(t)
		net := newNetwork(t)
		tr, err := tracing.New(rec.tp)
		require.NoError(t, err)

		h := net.Host("sub")
		srv, err := server.New("sub", h.Transport(), h.Registry(), server.WithBroker(h.Broker()), tr.ServerOption())
		require.NoError(t, err)
		got := make(chan int, 1)
		require.NoError(t, srv.Subscribe("events", func(ctx context.Context, e *Event) error {
			assert.True(t, trace.SpanContextFromContext(ctx).IsValid(), "the subscriber's ctx carries its span")
			got <- e.N
			return nil
		}))
		require.NoError(t, srv.Start(context.Background()))
		defer srv.Stop(context.Background())

		cli := newClient(t, net, tr.ClientOption(), client.WithBroker(net.Host("client").Broker()))
		ctx, parent := rec.tp.Tracer("test").Start(context.Background(), "job")
		require.NoError(t, cli.Publish(ctx, "events", &Event{N: 7}))
		parent.End()
		assert.Equal(t, 7, <-got)
		require.NoError(t, srv.Stop(context.Background()))

		pubs := rec.named("events publish", trace.SpanKindProducer)
		subs := rec.named("events process", trace.SpanKindConsumer)
		require.Len(t, pubs, 1)
		require.Len(t, subs, 1)
		assert.Equal(t, parent.SpanContext().SpanID(), pubs[0].Parent().SpanID())
		assert.Equal(t, pubs[0].SpanContext().SpanID(), subs[0].Parent().SpanID())
		assert.Equal(t, parent.SpanContext().TraceID(), subs[0].SpanContext().TraceID())
		assert.Equal(t, "events", attr(subs[0], tracing.AttrMsgTopic))
		assert.Equal(t, "ok", attr(subs[0], tracing.AttrCode))
	})
}
