package tracing

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/service"
	"github.com/microsim/microsim/observe/internal/optjoin"
	"github.com/microsim/microsim/observe/internal/outcome"
)

// ScopeName is the instrumentation scope of the tracers a Tracing takes
// from its TracerProvider.
const ScopeName = "github.com/microsim/microsim/observe/tracing"

// ErrNilTracerProvider: New was given no TracerProvider.
var ErrNilTracerProvider = errors.New("tracing: nil TracerProvider")

// Span attribute keys of microsim's own (the rpc.*, server.* and
// messaging.* ones follow the OpenTelemetry semantic conventions).
const (
	AttrCode          = attribute.Key("microsim.code")         // outcome: errors.Code name, "ok" on success
	AttrIdempotent    = attribute.Key("microsim.idempotent")   // the call was marked idempotent
	AttrAttempt       = attribute.Key("microsim.attempt")      // attempt number, from 1, hedges included
	AttrAttemptKind   = attribute.Key("microsim.attempt.kind") // "first", "retry" or "hedge"
	AttrNodeID        = attribute.Key("microsim.node.id")      // the registered node an attempt went to
	AttrServerAddress = attribute.Key("server.address")        // the node's address
	AttrRPCSystem     = attribute.Key("rpc.system")            // always "microsim"
	AttrRPCService    = attribute.Key("rpc.service")           // the called service
	AttrRPCMethod     = attribute.Key("rpc.method")            // the endpoint, "Handler.Method"
	AttrMsgSystem     = attribute.Key("messaging.system")      // always "microsim"
	AttrMsgTopic      = attribute.Key("messaging.destination.name")
	AttrMsgOperation  = attribute.Key("messaging.operation.type") // "send" or "process"
)

// System is the value of rpc.system and messaging.system.
const System = "microsim"

// Tracing makes the wrappers that trace a client's and a server's work
// with the tracer of one TracerProvider. It is safe for concurrent use
// and holds nothing to close (the TracerProvider is the caller's).
type Tracing struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
	kinds  map[trace.SpanKind]trace.SpanStartOption // made once: an option boxes its value
	names  spanNames
}

// Option configures a Tracing.
type Option func(*Tracing) error

// WithPropagator sets how trace context travels in request metadata and
// event headers (default propagation.TraceContext: the W3C traceparent
// and tracestate headers).
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(t *Tracing) error {
		if p == nil {
			return fmt.Errorf("tracing: WithPropagator: nil propagator")
		}
		t.prop = p
		return nil
	}
}

// New returns a Tracing whose spans come from tp. It does not block.
func New(tp trace.TracerProvider, opts ...Option) (*Tracing, error) {
	if tp == nil {
		return nil, ErrNilTracerProvider
	}
	t := &Tracing{tracer: tp.Tracer(ScopeName), prop: propagation.TraceContext{}, kinds: map[trace.SpanKind]trace.SpanStartOption{}}
	for _, k := range []trace.SpanKind{trace.SpanKindInternal, trace.SpanKindClient, trace.SpanKindServer, trace.SpanKindProducer, trace.SpanKindConsumer} {
		t.kinds[k] = trace.WithSpanKind(k)
	}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("tracing: nil option")
		}
		if err := o(t); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// ClientOption installs the call, attempt, stream and publish wrappers on
// a client.
func (t *Tracing) ClientOption() client.Option {
	return optjoin.Join(
		client.WithCallWrapper(t.CallWrapper),
		client.WithAttemptWrapper(t.AttemptWrapper),
		client.WithPublishWrapper(t.PublishWrapper),
		client.WithStreamWrapper(t.StreamWrapper),
	)
}

// ServerOption installs the handler and subscriber wrappers on a server.
func (t *Tracing) ServerOption() server.Option {
	return optjoin.Join(
		server.WithHandlerWrapper(t.HandlerWrapper),
		server.WithSubscriberWrapper(t.SubscriberWrapper),
	)
}

// ServiceOption traces a service's client and server.
func (t *Tracing) ServiceOption() service.Option {
	return optjoin.Join(
		service.WithClientOptions(t.ClientOption()),
		service.WithServerOptions(t.ServerOption()),
	)
}

// ClientOption is New(tp).ClientOption(); a nil tp makes client.New fail.
func ClientOption(tp trace.TracerProvider) client.Option {
	t, err := New(tp)
	return optjoin.Of(t, err, (*Tracing).ClientOption)
}

// ServerOption is New(tp).ServerOption(); a nil tp makes server.New fail.
func ServerOption(tp trace.TracerProvider) server.Option {
	t, err := New(tp)
	return optjoin.Of(t, err, (*Tracing).ServerOption)
}

// ServiceOption is New(tp).ServiceOption(); a nil tp makes service.New fail.
func ServiceOption(tp trace.TracerProvider) service.Option {
	t, err := New(tp)
	return optjoin.Of(t, err, (*Tracing).ServiceOption)
}

// end records err on span and ends it.
func end(span trace.Span, err error) {
	if span.IsRecording() {
		span.SetAttributes(AttrCode.String(outcome.Code(err)))
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
	}
	span.End()
}
