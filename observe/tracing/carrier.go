package tracing

import (
	"context"
	"net/textproto"

	"go.opentelemetry.io/otel/propagation"

	"github.com/microsim/microsim/framework/metadata"
)

// headerCarrier is a propagation.TextMapCarrier over a header map whose
// keys may be canonical ("Traceparent", as metadata writes them) or not:
// Get finds a key in either form, Set writes the canonical one (so it
// replaces what metadata put there).
type headerCarrier map[string]string

var _ propagation.TextMapCarrier = headerCarrier(nil)

func (h headerCarrier) Get(key string) string {
	if v, ok := h[key]; ok {
		return v
	}
	return h[textproto.CanonicalMIMEHeaderKey(key)]
}

func (h headerCarrier) Set(key, value string) { h[textproto.CanonicalMIMEHeaderKey(key)] = value }

func (h headerCarrier) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}

// injectMetadata returns ctx with the trace context of its span written
// into its request metadata, replacing any there.
func (t *Tracing) injectMetadata(ctx context.Context) context.Context {
	md, _ := metadata.FromContext(ctx) // a copy of its own
	t.prop.Inject(ctx, headerCarrier(md))
	return metadata.NewContext(ctx, md)
}

// extractMetadata returns ctx with the remote span context found in its
// request metadata, if any, as the parent of the spans started from it.
func (t *Tracing) extractMetadata(ctx context.Context) context.Context {
	md, ok := metadata.FromContext(ctx)
	if !ok {
		return ctx
	}
	return t.prop.Extract(ctx, headerCarrier(md))
}
