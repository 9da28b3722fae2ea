package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/client"
)

// CallWrapper is a client.CallWrapper that wraps each call in a span. Its
// parent is the span in the call's ctx or, when there is none, the trace
// context in the ctx's request metadata (a call made by a handler on an
// untraced server).
func (t *Tracing) CallWrapper(next client.CallFunc) client.CallFunc {
	return func(ctx context.Context, req *client.Request, rsp any) error {
		if !trace.SpanContextFromContext(ctx).IsValid() {
			ctx = t.extractMetadata(ctx)
		}
		ctx, span := t.startRPC(ctx, req.Service, req.Endpoint, trace.SpanKindInternal, AttrIdempotent.Bool(req.Idempotent))
		err := next(ctx, req, rsp)
		end(span, err)
		return err
	}
}

// AttemptWrapper is a client.AttemptWrapper that wraps each attempt in a
// span, a child of the call's, and sends that span's trace context in the
// attempt's request metadata.
func (t *Tracing) AttemptWrapper(next client.AttemptFunc) client.AttemptFunc {
	return func(ctx context.Context, addr string, req *client.Request, rsp any) error {
		ctx, span := t.startRPC(ctx, req.Service, req.Endpoint, trace.SpanKindClient)
		if span.IsRecording() {
			span.SetAttributes(AttrServerAddress.String(addr))
			if a, ok := client.AttemptFromContext(ctx); ok {
				span.SetAttributes(AttrAttempt.Int(a.Number), AttrAttemptKind.String(a.Kind()))
				if a.Node != nil {
					span.SetAttributes(AttrNodeID.String(a.Node.ID))
				}
			}
		}
		err := next(t.injectMetadata(ctx), addr, req, rsp)
		end(span, err)
		return err
	}
}

// PublishWrapper is a client.PublishWrapper that wraps each publish in a
// span and sends its trace context in the event's headers.
func (t *Tracing) PublishWrapper(next client.PublishFunc) client.PublishFunc {
	return func(ctx context.Context, topic string, m *broker.Message) error {
		if !trace.SpanContextFromContext(ctx).IsValid() {
			ctx = t.extractMetadata(ctx)
		}
		ctx, span := t.startMessage(ctx, topic, trace.SpanKindProducer)
		if m.Header == nil {
			m.Header = make(map[string]string, 2)
		}
		t.prop.Inject(ctx, headerCarrier(m.Header))
		err := next(ctx, topic, m)
		end(span, err)
		return err
	}
}

// startRPC starts a span of kind for a call of service's endpoint and,
// when the span records, gives it the rpc.* attributes and extra (a span
// the sampler dropped costs no attribute).
func (t *Tracing) startRPC(ctx context.Context, service, endpoint string, kind trace.SpanKind, extra ...attribute.KeyValue) (context.Context, trace.Span) {
	ctx, span := t.tracer.Start(ctx, t.names.of(service, endpoint), t.kinds[kind])
	if span.IsRecording() {
		span.SetAttributes(AttrRPCSystem.String(System), AttrRPCService.String(service), AttrRPCMethod.String(endpoint))
		span.SetAttributes(extra...)
	}
	return ctx, span
}
