package tracing

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"github.com/microsim/microsim/framework/server"
)

// HandlerWrapper is a server.HandlerWrapper that wraps each handled
// request (a unary call, or a whole stream) in a span whose parent is the
// trace context in the request's headers: the caller's attempt span. The
// handler's ctx carries the span, and its metadata the span's trace
// context, so the calls the handler makes continue the trace.
func (t *Tracing) HandlerWrapper(next server.HandlerFunc) server.HandlerFunc {
	return func(ctx context.Context, req *server.Request, rsp any) error {
		parent := t.prop.Extract(ctx, headerCarrier(req.Header))
		ctx, span := t.startRPC(parent, req.Service, req.Endpoint, trace.SpanKindServer)
		err := next(t.injectMetadata(ctx), req, rsp)
		end(span, err)
		return err
	}
}

// SubscriberWrapper is a server.SubscriberWrapper that wraps each
// delivered event in a span whose parent is the trace context in the
// event's headers: the publisher's span.
func (t *Tracing) SubscriberWrapper(next server.SubscriberFunc) server.SubscriberFunc {
	return func(ctx context.Context, msg *server.Message) error {
		parent := t.prop.Extract(ctx, headerCarrier(msg.Header))
		ctx, span := t.startMessage(parent, msg.Topic, trace.SpanKindConsumer)
		err := next(t.injectMetadata(ctx), msg)
		end(span, err)
		return err
	}
}

// startMessage starts the span of a publish (kind Producer, "topic
// publish") or of a delivered event (kind Consumer, "topic process").
func (t *Tracing) startMessage(ctx context.Context, topic string, kind trace.SpanKind) (context.Context, trace.Span) {
	op, name := "process", topic+" process"
	if kind == trace.SpanKindProducer {
		op, name = "send", topic+" publish"
	}
	ctx, span := t.tracer.Start(ctx, name, t.kinds[kind])
	if span.IsRecording() {
		span.SetAttributes(AttrMsgSystem.String(System), AttrMsgTopic.String(topic), AttrMsgOperation.String(op))
	}
	return ctx, span
}
