package sim

import (
	"fmt"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/microsim/microsim/sim/scenario"
)

// The waterfall: for each failed assertion of an observed run, the
// report carries the trace of a representative call in its scope (the
// slowest for a latency bound, a failed one otherwise), flattened into
// rows that the HTML report draws as bars: every attempt, node, retry
// and hedge, and the faults active while the call ran.

// TraceReport is one representative call's trace.
type TraceReport struct {
	// Assertion is the failed assertion the trace illustrates.
	Assertion string `json:"assertion"`
	TraceID   string `json:"trace_id"`
	// StartSeconds is when the call started, since the run's start;
	// DurationMs how long it took.
	StartSeconds float64 `json:"start_seconds"`
	DurationMs   float64 `json:"duration_ms"`
	Failed       bool    `json:"failed"`
	// Faults are the fault occurrences active at some time of the call.
	Faults []string     `json:"faults"`
	Spans  []SpanReport `json:"spans"`
}

// SpanReport is one span of a TraceReport, in depth-first order.
type SpanReport struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"` // call, attempt, server, publish, consume
	Depth int    `json:"depth"`
	// StartMs is since the call started.
	StartMs    float64 `json:"start_ms"`
	DurationMs float64 `json:"duration_ms"`
	// Node, Attempt ("first", "retry", "hedge") and Code, when the span
	// has them.
	Node    string `json:"node,omitempty"`
	Attempt string `json:"attempt,omitempty"`
	Code    string `json:"code,omitempty"`
}

// maxWaterfallSpans bounds the rows of one waterfall.
const maxWaterfallSpans = 200

// attachTraces picks a trace for each failed assertion of r.
func (w *world) attachTraces(r *Report, sc *scenario.Scenario, obs *Observation, faults []*faultRun) {
	if obs == nil {
		return
	}
	traces := obs.Traces()
	if len(traces) == 0 {
		return
	}
	obs.mu.Lock()
	t0 := obs.t0
	obs.mu.Unlock()
	for i, a := range r.Assertions {
		if a.Passed {
			continue
		}
		roots := w.rootsInScope(&sc.Assertions[i])
		sp := w.spanOfAssertion(&sc.Assertions[i], faults)
		var best *Trace
		bestD := time.Duration(-1)
		slowest := a.Unit == "ms"
		for k := range traces {
			tr := &traces[k]
			root := tr.Spans[0]
			if roots != nil && !roots[root.Name] {
				continue
			}
			at := root.StartTime.Sub(t0)
			if at < time.Duration(sp.from)*w.window || at >= time.Duration(sp.to)*w.window {
				continue
			}
			d := root.EndTime.Sub(root.StartTime)
			better := d > bestD
			if !slowest && best != nil && best.Failed != tr.Failed {
				better = tr.Failed
			}
			if best == nil || better {
				best, bestD = tr, d
			}
		}
		if best != nil {
			r.Traces = append(r.Traces, traceReport(a.Name, best, t0, r.Faults))
		}
	}
}

// rootsInScope are the names of the top-level calls an assertion looks
// at ("service/Endpoint"); nil means any.
func (w *world) rootsInScope(a *scenario.Assertion) map[string]bool {
	var workload, endpoint string
	switch {
	case a.SuccessRate != nil:
		workload, endpoint = a.SuccessRate.Workload, a.SuccessRate.Endpoint
	case a.Latency != nil:
		workload, endpoint = a.Latency.Workload, a.Latency.Endpoint
	case a.Recovery != nil:
		workload, endpoint = a.Recovery.Workload, a.Recovery.Endpoint
	case a.Retries != nil:
		workload, endpoint = a.Retries.Workload, a.Retries.Endpoint
	default:
		return nil
	}
	if workload == "" && endpoint == "" {
		return nil
	}
	out := map[string]bool{}
	for _, wl := range w.sc.Workloads {
		if workload != "" && wl.Name != workload {
			continue
		}
		eps := []string{wl.Endpoint}
		for _, m := range wl.Mix {
			eps = append(eps, m.Endpoint)
		}
		for _, ep := range eps {
			if ep != "" && (endpoint == "" || ep == endpoint) {
				out[wl.Service+"/"+ep] = true
			}
		}
	}
	return out
}

// spanOfAssertion is the time range an assertion looks at (the whole run
// for kinds without one).
func (w *world) spanOfAssertion(a *scenario.Assertion, faults []*faultRun) span {
	var s scenario.Scope
	switch {
	case a.SuccessRate != nil:
		s = a.SuccessRate.Scope
	case a.Latency != nil:
		s = a.Latency.Scope
	case a.Retries != nil:
		s = a.Retries.Scope
	case a.Edge != nil:
		s = a.Edge.Scope
	case a.Amplification != nil:
		s = a.Amplification.Scope
	case a.TrafficShare != nil:
		s = a.TrafficShare.Scope
	}
	return w.spanOf(s, faults)
}

// traceReport flattens a trace into waterfall rows, depth first.
func traceReport(assertion string, tr *Trace, t0 time.Time, faults []FaultEvent) TraceReport {
	root := tr.Spans[0]
	start, end := root.StartTime, root.EndTime
	out := TraceReport{Assertion: assertion, TraceID: root.SpanContext.TraceID().String(),
		StartSeconds: start.Sub(t0).Seconds(), DurationMs: msOf(end.Sub(start)), Failed: tr.Failed, Faults: []string{}}
	children := map[trace.SpanID][]tracetest.SpanStub{}
	for _, s := range tr.Spans[1:] {
		children[s.Parent.SpanID()] = append(children[s.Parent.SpanID()], s)
	}
	var walk func(s tracetest.SpanStub, depth int)
	walk = func(s tracetest.SpanStub, depth int) {
		if len(out.Spans) >= maxWaterfallSpans {
			return
		}
		out.Spans = append(out.Spans, spanRow(s, depth, start))
		kids := children[s.SpanContext.SpanID()]
		slices.SortStableFunc(kids, func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) })
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	walk(root, 0)
	from, to := start.Sub(t0).Seconds(), end.Sub(t0).Seconds()
	for _, f := range faults {
		if f.StartSeconds <= to && (f.EndSeconds < 0 || f.EndSeconds >= from) {
			out.Faults = append(out.Faults, fmt.Sprintf("%s (%s %s)", f.Fault, f.Kind, f.Target))
		}
	}
	return out
}

func spanRow(s tracetest.SpanStub, depth int, start time.Time) SpanReport {
	r := SpanReport{Name: s.Name, Depth: depth, StartMs: msOf(s.StartTime.Sub(start)), DurationMs: msOf(s.EndTime.Sub(s.StartTime))}
	switch s.SpanKind {
	case trace.SpanKindInternal:
		r.Kind = "call"
	case trace.SpanKindClient:
		r.Kind = "attempt"
	case trace.SpanKindServer:
		r.Kind = "server"
	case trace.SpanKindProducer:
		r.Kind = "publish"
	case trace.SpanKindConsumer:
		r.Kind = "consume"
	}
	for _, kv := range s.Attributes {
		switch kv.Key {
		case attribute.Key("microsim.node.id"):
			r.Node = kv.Value.AsString()
		case attribute.Key("microsim.attempt.kind"):
			r.Attempt = kv.Value.AsString()
		case attribute.Key("microsim.code"):
			r.Code = kv.Value.AsString()
		}
	}
	if r.Code == "" && s.Status.Code == codes.Error {
		r.Code = "error"
	}
	return r
}
