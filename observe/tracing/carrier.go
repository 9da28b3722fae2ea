package tracing

import (
	"context"
	"net/textproto"

	"go.opentelemetry.io/otel/propagation"

	"github.com/microsim/microsim/framework/metadata"
)

// canonical returns key in the canonical form metadata keeps keys in,
// without allocating for the keys the standard propagators use.
func canonical(key string) string {
	switch key {
	case "traceparent":
		return "Traceparent"
	case "tracestate":
		return "Tracestate"
	case "baggage":
		return "Baggage"
	}
	return textproto.CanonicalMIMEHeaderKey(key)
}

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
	return h[canonical(key)]
}

func (h headerCarrier) Set(key, value string) { h[canonical(key)] = value }

func (h headerCarrier) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}

// ctxCarrier reads the request metadata of a ctx, copying nothing.
type ctxCarrier struct{ ctx context.Context }

func (c ctxCarrier) Get(key string) string {
	v, _ := metadata.Value(c.ctx, canonical(key))
	return v
}

func (ctxCarrier) Set(string, string) {}

func (c ctxCarrier) Keys() []string {
	md, _ := metadata.FromContext(c.ctx)
	return headerCarrier(md).Keys()
}

// kvCarrier collects what a propagator injects as key-value pairs.
type kvCarrier struct{ kv []string }

func (c *kvCarrier) Get(string) string { return "" }

func (c *kvCarrier) Set(key, value string) { c.kv = append(c.kv, canonical(key), value) }

func (c *kvCarrier) Keys() []string {
	keys := make([]string, 0, len(c.kv)/2)
	for i := 0; i < len(c.kv); i += 2 {
		keys = append(keys, c.kv[i])
	}
	return keys
}

// injectMetadata returns ctx with the trace context of its span written
// into its request metadata, replacing any there.
func (t *Tracing) injectMetadata(ctx context.Context) context.Context {
	var buf [4]string
	c := kvCarrier{kv: buf[:0]}
	t.prop.Inject(ctx, &c)
	if len(c.kv) == 0 {
		return ctx
	}
	return metadata.AppendToContext(ctx, c.kv...)
}

// extractMetadata returns ctx with the remote span context found in its
// request metadata, if any, as the parent of the spans started from it.
func (t *Tracing) extractMetadata(ctx context.Context) context.Context {
	return t.prop.Extract(ctx, ctxCarrier{ctx})
}
