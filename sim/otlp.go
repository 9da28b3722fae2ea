package sim

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// WriteOTLP writes the kept traces as OTLP JSON, the encoding of the
// OpenTelemetry protocol's ExportTraceServiceRequest (TracesData) that a
// collector's file receiver and OTLP tools read: one resource (the
// scenario, as service.name), one scope, every kept span with its
// virtual-time timestamps. IDs are hex, 64-bit integers strings, enums
// numbers, as the OTLP JSON mapping says.
func (o *Observation) WriteOTLP(w io.Writer, scenario string) error {
	var spans []otlpSpan
	for _, t := range o.Traces() {
		for _, s := range t.Spans {
			spans = append(spans, toOTLP(s))
		}
	}
	if spans == nil {
		spans = []otlpSpan{}
	}
	doc := otlpTraces{ResourceSpans: []otlpResourceSpans{{
		Resource: otlpResource{Attributes: []otlpKV{{Key: "service.name", Value: otlpValue{StringValue: ptr("microsim-sim/" + scenario)}}}},
		ScopeSpans: []otlpScopeSpans{{
			Scope: otlpScope{Name: "github.com/microsim/microsim/observe/tracing"},
			Spans: spans,
		}},
	}}}
	enc := json.NewEncoder(w)
	return enc.Encode(doc)
}

type otlpTraces struct {
	ResourceSpans []otlpResourceSpans `json:"resourceSpans"`
}

type otlpResourceSpans struct {
	Resource   otlpResource     `json:"resource"`
	ScopeSpans []otlpScopeSpans `json:"scopeSpans"`
}

type otlpResource struct {
	Attributes []otlpKV `json:"attributes"`
}

type otlpScopeSpans struct {
	Scope otlpScope  `json:"scope"`
	Spans []otlpSpan `json:"spans"`
}

type otlpScope struct {
	Name string `json:"name"`
}

type otlpSpan struct {
	TraceID           string      `json:"traceId"`
	SpanID            string      `json:"spanId"`
	ParentSpanID      string      `json:"parentSpanId,omitempty"`
	Name              string      `json:"name"`
	Kind              int         `json:"kind"`
	StartTimeUnixNano string      `json:"startTimeUnixNano"`
	EndTimeUnixNano   string      `json:"endTimeUnixNano"`
	Attributes        []otlpKV    `json:"attributes,omitempty"`
	Events            []otlpEvent `json:"events,omitempty"`
	Status            otlpStatus  `json:"status"`
}

type otlpEvent struct {
	TimeUnixNano string   `json:"timeUnixNano"`
	Name         string   `json:"name"`
	Attributes   []otlpKV `json:"attributes,omitempty"`
}

type otlpStatus struct {
	Code    int    `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

type otlpKV struct {
	Key   string    `json:"key"`
	Value otlpValue `json:"value"`
}

type otlpValue struct {
	StringValue *string  `json:"stringValue,omitempty"`
	BoolValue   *bool    `json:"boolValue,omitempty"`
	IntValue    *string  `json:"intValue,omitempty"`
	DoubleValue *float64 `json:"doubleValue,omitempty"`
}

func ptr[T any](v T) *T { return &v }

func toOTLP(s tracetest.SpanStub) otlpSpan {
	out := otlpSpan{
		TraceID: traceHex(s.SpanContext.TraceID()),
		SpanID:  spanHex(s.SpanContext.SpanID()),
		Name:    s.Name,
		// OTLP's SpanKind numbers the kinds as the API does.
		Kind:              int(s.SpanKind),
		StartTimeUnixNano: strconv.FormatInt(s.StartTime.UnixNano(), 10),
		EndTimeUnixNano:   strconv.FormatInt(s.EndTime.UnixNano(), 10),
		Attributes:        otlpAttrs(s.Attributes),
	}
	if s.Parent.IsValid() {
		out.ParentSpanID = spanHex(s.Parent.SpanID())
	}
	switch s.Status.Code {
	case codes.Error:
		out.Status = otlpStatus{Code: 2, Message: s.Status.Description}
	case codes.Ok:
		out.Status = otlpStatus{Code: 1}
	}
	for _, e := range s.Events {
		out.Events = append(out.Events, otlpEvent{TimeUnixNano: strconv.FormatInt(e.Time.UnixNano(), 10), Name: e.Name, Attributes: otlpAttrs(e.Attributes)})
	}
	return out
}

func spanHex(id trace.SpanID) string { return hex.EncodeToString(id[:]) }

func traceHex(id trace.TraceID) string { return hex.EncodeToString(id[:]) }

func otlpAttrs(kvs []attribute.KeyValue) []otlpKV {
	var out []otlpKV
	for _, kv := range kvs {
		var v otlpValue
		switch kv.Value.Type() {
		case attribute.BOOL:
			v.BoolValue = ptr(kv.Value.AsBool())
		case attribute.INT64:
			v.IntValue = ptr(strconv.FormatInt(kv.Value.AsInt64(), 10))
		case attribute.FLOAT64:
			v.DoubleValue = ptr(kv.Value.AsFloat64())
		default:
			v.StringValue = ptr(kv.Value.Emit())
		}
		out = append(out, otlpKV{Key: string(kv.Key), Value: v})
	}
	return out
}
