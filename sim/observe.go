package sim

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/server"
	obsmetrics "github.com/microsim/microsim/observe/metrics"
	"github.com/microsim/microsim/observe/tracing"
)

// An Observation is what a run's observability would have shown: the
// traces of its calls, from every client and server of the world
// (observe/tracing), and its Prometheus metrics (observe/metrics), all in
// virtual time. It keeps every failed top-level call's trace and a
// sample of the rest, bounded (see the limits below): every failed
// top-level call's trace, every call that needed more than one attempt,
// the 50 slowest of the others, and one in 100 of the rest. Give it to one run
// with WithObservation; read it once the run returned.
type Observation struct {
	tp      *sdktrace.TracerProvider
	keeper  *traceKeeper
	tracing *tracing.Tracing
	reg     *prometheus.Registry
	metrics *obsmetrics.Metrics

	mu sync.Mutex
	t0 time.Time // the run's start, virtual
}

// Limits of what an Observation keeps.
const (
	// maxFailedTraces is how many failed calls' traces are kept, and
	// maxRetriedTraces how many of calls that succeeded after more than one
	// attempt (a retry or a hedge).
	maxFailedTraces  = 1000
	maxRetriedTraces = 500
	// maxSampledTraces is how many successful calls' traces are kept,
	// one in sampleEvery.
	maxSampledTraces = 200
	sampleEvery      = 100
	// maxSlowTraces is how many of the slowest other calls' traces are
	// kept, so that a latency bound's worst call can be shown.
	maxSlowTraces = 50
	// maxTraceSpans bounds the spans kept of one trace.
	maxTraceSpans = 2000
)

// NewObservation returns an Observation for one run. It does not block.
func NewObservation() (*Observation, error) {
	o := &Observation{keeper: &traceKeeper{pending: map[trace.TraceID]*keptTrace{}, kept: map[trace.TraceID]*keptTrace{}}}
	o.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(o.keeper), sdktrace.WithIDGenerator(&seqIDs{}))
	t, err := tracing.New(o.tp)
	if err != nil {
		return nil, err
	}
	o.tracing = t
	o.reg = prometheus.NewRegistry()
	if o.metrics, err = obsmetrics.New(o.reg); err != nil {
		return nil, err
	}
	return o, nil
}

// WithObservation records the run's traces and metrics into o.
func WithObservation(o *Observation) RunOption { return func(c *runConfig) { c.obs = o } }

// clientOptions are the options that observe a client of the world.
func (o *Observation) clientOptions() []client.Option {
	if o == nil {
		return nil
	}
	return []client.Option{o.tracing.ClientOption(), o.metrics.ClientOption()}
}

// serverOptions are the options that observe a server of the world.
func (o *Observation) serverOptions() []server.Option {
	if o == nil {
		return nil
	}
	return []server.Option{o.tracing.ServerOption(), o.metrics.ServerOption()}
}

// start marks the run's start (the origin of the report's times).
func (o *Observation) start(t0 time.Time) {
	if o == nil {
		return
	}
	o.mu.Lock()
	o.t0 = t0
	o.mu.Unlock()
}

// Registry is the run's Prometheus registry: every client's and server's
// request metrics (micro_client_*, micro_server_*, micro_broker_*).
func (o *Observation) Registry() *prometheus.Registry { return o.reg }

// Metrics formats WriteMetrics knows.
const (
	// MetricsOpenMetrics is the OpenMetrics text format.
	MetricsOpenMetrics = "openmetrics"
	// MetricsText is Prometheus's classic text exposition format (what
	// `promtool check metrics` reads).
	MetricsText = "text"
)

// WriteOpenMetrics writes the registry's metrics (their state at the end
// of the run) as OpenMetrics text.
func (o *Observation) WriteOpenMetrics(w io.Writer) error {
	return o.WriteMetrics(w, MetricsOpenMetrics)
}

// WriteMetrics writes the registry's metrics (their state at the end of
// the run) in format: MetricsOpenMetrics or MetricsText.
func (o *Observation) WriteMetrics(w io.Writer, format string) error {
	var f expfmt.Format
	switch format {
	case MetricsOpenMetrics, "":
		f = expfmt.NewFormat(expfmt.TypeOpenMetrics)
	case MetricsText:
		f = expfmt.NewFormat(expfmt.TypeTextPlain)
	default:
		return fmt.Errorf("sim: unknown metrics format %q (known: %s, %s)", format, MetricsOpenMetrics, MetricsText)
	}
	mfs, err := o.reg.Gather()
	if err != nil {
		return err
	}
	enc := expfmt.NewEncoder(w, f)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		return c.Close()
	}
	return nil
}

// Trace is one kept trace: the spans of one top-level call, the calls it
// caused down the call graph included, root first and the rest by start.
type Trace struct {
	ID     trace.TraceID
	Failed bool
	Spans  tracetest.SpanStubs
	// Truncated is true when the trace had more than the spans kept.
	Truncated bool
}

// Traces returns the kept traces, failed ones first, each group in the
// order their calls ended.
func (o *Observation) Traces() []Trace {
	k := o.keeper
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]Trace, 0, len(k.order))
	for _, id := range k.order {
		kt := k.kept[id]
		spans := slices.Clone(kt.spans)
		slices.SortStableFunc(spans, func(a, b sdktrace.ReadOnlySpan) int {
			switch {
			case !a.Parent().IsValid():
				return -1
			case !b.Parent().IsValid():
				return 1
			}
			return a.StartTime().Compare(b.StartTime())
		})
		out = append(out, Trace{ID: id, Failed: kt.failed, Spans: tracetest.SpanStubsFromReadOnlySpans(spans), Truncated: kt.truncated})
	}
	slices.SortStableFunc(out, func(a, b Trace) int {
		switch {
		case a.Failed == b.Failed:
			return 0
		case a.Failed:
			return -1
		}
		return 1
	})
	return out
}

// close ends the tracer provider (every span has ended by then).
func (o *Observation) close() {
	if o != nil {
		_ = o.tp.Shutdown(context.Background())
	}
}

// traceKeeper is the span processor that decides, when a trace's root
// (a top-level call) ends, whether to keep the trace: always when it
// failed, one in sampleEvery otherwise, within the limits. Spans that end
// before their root wait in pending; spans that end after it (work the
// caller abandoned) join a kept trace or are dropped.
type traceKeeper struct {
	mu        sync.Mutex
	pending   map[trace.TraceID]*keptTrace
	kept      map[trace.TraceID]*keptTrace
	order     []trace.TraceID
	failed    int
	retried   int
	sampled   int
	successes int
	slow      []slowTrace // the slowest kept successes, by duration, shortest first
}

// slowTrace is one of the slowest calls kept.
type slowTrace struct {
	id trace.TraceID
	d  time.Duration
}

// keepSlow keeps trace id, which took d, if it is among the slowest; it
// reports whether it did, after dropping the one it displaced.
func (k *traceKeeper) keepSlow(id trace.TraceID, d time.Duration) bool {
	if len(k.slow) == maxSlowTraces {
		if d <= k.slow[0].d {
			return false
		}
		drop := k.slow[0].id
		k.slow = k.slow[1:]
		delete(k.kept, drop)
		k.order = slices.DeleteFunc(k.order, func(x trace.TraceID) bool { return x == drop })
	}
	i, _ := slices.BinarySearchFunc(k.slow, d, func(s slowTrace, d time.Duration) int { return cmpDur(s.d, d) })
	k.slow = slices.Insert(k.slow, i, slowTrace{id: id, d: d})
	return true
}

func cmpDur(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

type keptTrace struct {
	spans     []sdktrace.ReadOnlySpan
	failed    bool
	truncated bool
}

func (k *traceKeeper) add(kt *keptTrace, s sdktrace.ReadOnlySpan) {
	if len(kt.spans) >= maxTraceSpans {
		kt.truncated = true
		return
	}
	kt.spans = append(kt.spans, s)
}

// OnStart implements sdktrace.SpanProcessor: a root opens its trace.
func (k *traceKeeper) OnStart(_ context.Context, s sdktrace.ReadWriteSpan) {
	if s.Parent().IsValid() {
		return
	}
	k.mu.Lock()
	k.pending[s.SpanContext().TraceID()] = &keptTrace{}
	k.mu.Unlock()
}

// OnEnd implements sdktrace.SpanProcessor.
func (k *traceKeeper) OnEnd(s sdktrace.ReadOnlySpan) {
	id := s.SpanContext().TraceID()
	k.mu.Lock()
	defer k.mu.Unlock()
	if kt := k.kept[id]; kt != nil {
		k.add(kt, s)
		return
	}
	kt := k.pending[id]
	if kt == nil {
		return // its root ended and the trace was dropped
	}
	k.add(kt, s)
	if s.Parent().IsValid() {
		return
	}
	delete(k.pending, id)
	kt.failed = s.Status().Code == codes.Error
	attempts := 0
	for _, c := range kt.spans {
		if c.Parent().SpanID() == s.SpanContext().SpanID() && c.SpanKind() == trace.SpanKindClient {
			attempts++
		}
	}
	keep := false
	switch {
	case kt.failed:
		keep = k.failed < maxFailedTraces
		if keep {
			k.failed++
		}
	case attempts > 1 && k.retried < maxRetriedTraces:
		keep = true
		k.retried++
	case k.keepSlow(id, s.EndTime().Sub(s.StartTime())):
		keep = true
		k.successes++
	default:
		k.successes++
		keep = k.successes%sampleEvery == 1 && k.sampled < maxSampledTraces
		if keep {
			k.sampled++
		}
	}
	if keep {
		k.kept[id] = kt
		k.order = append(k.order, id)
	}
}

// Shutdown implements sdktrace.SpanProcessor.
func (k *traceKeeper) Shutdown(context.Context) error { return nil }

// ForceFlush implements sdktrace.SpanProcessor.
func (k *traceKeeper) ForceFlush(context.Context) error { return nil }

// seqIDs makes trace and span IDs from a counter: no global random
// source, and IDs that read in the order they were made.
type seqIDs struct {
	mu sync.Mutex
	n  uint64
}

func (g *seqIDs) next() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	return g.n
}

// NewIDs implements sdktrace.IDGenerator.
func (g *seqIDs) NewIDs(context.Context) (trace.TraceID, trace.SpanID) {
	var tid trace.TraceID
	n := g.next()
	binary.BigEndian.PutUint64(tid[8:], n)
	binary.BigEndian.PutUint64(tid[:8], mix64(n))
	return tid, g.span()
}

// NewSpanID implements sdktrace.IDGenerator.
func (g *seqIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return g.span() }

func (g *seqIDs) span() trace.SpanID {
	var sid trace.SpanID
	binary.BigEndian.PutUint64(sid[:], g.next())
	return sid
}
