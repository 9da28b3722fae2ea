package sim_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	otlptrace "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/report"
	"github.com/microsim/microsim/sim/scenario"
)

// decodeOTLP decodes OTLP JSON with the upstream protobuf definitions
// (the JSON mapping writes IDs in hex where protojson expects base64).
func decodeOTLP(t *testing.T, data []byte) *otlptrace.TracesData {
	t.Helper()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(data, &doc))
	var fix func(v any)
	fix = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && (k == "traceId" || k == "spanId" || k == "parentSpanId") {
					b, err := hex.DecodeString(s)
					require.NoError(t, err, "%s %q is not hex", k, s)
					x[k] = base64.StdEncoding.EncodeToString(b)
					continue
				}
				fix(e)
			}
		case []any:
			for _, e := range x {
				fix(e)
			}
		}
	}
	fix(doc)
	fixed, err := json.Marshal(doc)
	require.NoError(t, err)
	var td otlptrace.TracesData
	require.NoError(t, protojson.Unmarshal(fixed, &td))
	return &td
}

func spanAttr(s *otlptrace.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			if sv := kv.Value.GetStringValue(); sv != "" {
				return sv
			}
			return strconv.FormatInt(kv.Value.GetIntValue(), 10)
		}
	}
	return ""
}

// A crashed node's refusal is retried: the call's trace shows one call
// span with two attempt spans, the first on the crashed node.
func TestObservationTracesARetry(t *testing.T) {
	sc := crashScenario()
	sc.Assertions = nil
	obs, err := sim.NewObservation()
	require.NoError(t, err)
	rep, err := sim.RunWith(sim.TestRunner(t), sc, sim.WithObservation(obs))
	require.NoError(t, err)
	require.Positive(t, rep.Totals.Retries)

	var buf bytes.Buffer
	require.NoError(t, obs.WriteOTLP(&buf, sc.Name))
	td := decodeOTLP(t, buf.Bytes())
	require.Len(t, td.ResourceSpans, 1)
	spans := td.ResourceSpans[0].ScopeSpans[0].Spans
	require.NotEmpty(t, spans)
	byTrace := map[string][]*otlptrace.Span{}
	for _, s := range spans {
		byTrace[string(s.TraceId)] = append(byTrace[string(s.TraceId)], s)
	}
	retried := 0
	for _, ss := range byTrace {
		var call *otlptrace.Span
		for _, s := range ss {
			if len(s.ParentSpanId) == 0 {
				call = s
			}
		}
		require.NotNil(t, call, "every kept trace has its root")
		var attempts []*otlptrace.Span
		for _, s := range ss {
			if bytes.Equal(s.ParentSpanId, call.SpanId) && s.Kind == otlptrace.Span_SPAN_KIND_CLIENT {
				attempts = append(attempts, s)
			}
		}
		require.NotEmpty(t, attempts)
		if len(attempts) != 2 {
			continue
		}
		retried++
		assert.Equal(t, "api/Api.Get", call.Name)
		first, second := attempts[0], attempts[1]
		if spanAttr(first, "microsim.attempt") > spanAttr(second, "microsim.attempt") {
			first, second = second, first
		}
		assert.Equal(t, "api-2", spanAttr(first, "microsim.node.id"), "the first attempt went to the crashed node")
		assert.Equal(t, "unavailable", spanAttr(first, "microsim.code"))
		assert.Equal(t, "retry", spanAttr(second, "microsim.attempt.kind"))
		assert.Equal(t, "ok", spanAttr(second, "microsim.code"))
		assert.NotEqual(t, "api-2", spanAttr(second, "microsim.node.id"))
		// Virtual time: the retry starts after the refusal.
		assert.GreaterOrEqual(t, second.StartTimeUnixNano, first.EndTimeUnixNano)
	}
	traces := obs.Traces()
	assert.Len(t, traces, len(byTrace))
	// Every call succeeded; every retried call's trace is kept, the 50
	// slowest of the others, and about one in 100 of the rest.
	assert.Equal(t, int(rep.Totals.Retries), retried, "every retry on the ghost has its trace")
	assert.InDelta(t, float64(rep.Totals.Calls)/100, float64(len(traces)-retried-50), 3)
	t.Logf("%d traces kept of %d calls, %d of them retried on the ghost", len(traces), rep.Totals.Calls, retried)
}

// Every failed call's trace is kept.
func TestObservationKeepsFailures(t *testing.T) {
	sc := chain(true, 2*time.Second) // every call times out after 300ms
	obs, err := sim.NewObservation()
	require.NoError(t, err)
	rep, err := sim.RunWith(sim.TestRunner(t), sc, sim.WithObservation(obs))
	require.NoError(t, err)
	require.Equal(t, uint64(100), rep.Totals.Calls)
	require.Zero(t, rep.Totals.Successes)
	traces := obs.Traces()
	require.Len(t, traces, 100)
	for _, tr := range traces {
		require.True(t, tr.Failed)
		// The top-level call ended at its 300ms timeout, before the
		// abandoned work below it: those spans are kept too.
		assert.Len(t, tr.Spans, 9)
	}
}

// Trace context crosses a three-service call graph: one trace per
// top-level call, each hop's server span a child of its caller's
// attempt; the run's metrics pass promtool.
func TestObservationCrossesTheCallGraph(t *testing.T) {
	sc := chain(true, 2*time.Millisecond)
	obs, err := sim.NewObservation()
	require.NoError(t, err)
	rep, err := sim.RunWith(sim.TestRunner(t), sc, sim.WithObservation(obs))
	require.NoError(t, err)
	require.Equal(t, rep.Totals.Calls, rep.Totals.Successes)
	traces := obs.Traces()
	require.NotEmpty(t, traces)
	tr := traces[0]
	// call, attempt, api server, api's call to mid, attempt, mid server,
	// mid's call to db, attempt, db server: nine spans in one trace.
	require.Len(t, tr.Spans, 9)
	ids := map[string]bool{}
	byID := map[string]string{}
	for _, s := range tr.Spans {
		ids[s.SpanContext.TraceID().String()] = true
		byID[s.SpanContext.SpanID().String()] = s.Name
	}
	assert.Len(t, ids, 1, "one trace across the three services")
	var servers []string
	for _, s := range tr.Spans {
		if s.SpanKind.String() == "server" {
			servers = append(servers, s.Name+" <- "+byID[s.Parent.SpanID().String()])
		}
	}
	assert.ElementsMatch(t, []string{"api/Api.Get <- api/Api.Get", "mid/Mid.Get <- mid/Mid.Get", "db/Db.Get <- db/Db.Get"}, servers,
		"each server span is a child of the caller's attempt span of the same name")

	// The metrics of the same run: one request per top-level call at
	// every tier, in the Prometheus registry, as OpenMetrics text.
	var om bytes.Buffer
	require.NoError(t, obs.WriteOpenMetrics(&om))
	text := om.String()
	assert.Contains(t, text, "# TYPE micro_server_request counter\n")
	assert.Contains(t, text, `micro_server_request_total{micro_code="ok",micro_endpoint="Db.Get",micro_name="db",micro_status="success"} 100.0`)
	assert.True(t, strings.HasSuffix(text, "# EOF\n"))
	// promtool lints the classic text exposition of the same registry.
	om.Reset()
	require.NoError(t, obs.WriteMetrics(&om, sim.MetricsText))
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("MICROSIM_REQUIRE_PROMETHEUS") == "1" {
			t.Fatalf("promtool is not on PATH (make installs Debian's prometheus package)")
		}
		t.Logf("promtool not on PATH: the exposition is not linted here")
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(om.Bytes())
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics: %s", out)
}

// A failed assertion of an observed run carries a representative call's
// trace, and the HTML report draws it as a waterfall.
func TestWaterfallOfAFailedAssertion(t *testing.T) {
	sc := crashScenario()
	// Calls take 10ms; the crash's retried ones more: fail a p100 bound,
	// so that the slowest call is shown.
	sc.Assertions = []scenario.Assertion{{Latency: &scenario.LatencyCheck{Scope: scenario.Scope{Fault: "crash"}, Percentile: 100, Max: scenario.D(10500 * time.Microsecond)}}}
	obs, err := sim.NewObservation()
	require.NoError(t, err)
	rep, err := sim.RunWith(sim.TestRunner(t), sc, sim.WithObservation(obs))
	require.NoError(t, err)
	require.False(t, rep.Passed)
	require.Len(t, rep.Traces, 1)
	tr := rep.Traces[0]
	assert.Equal(t, rep.Assertions[0].Name, tr.Assertion)
	assert.InDelta(t, rep.Assertions[0].Value, tr.DurationMs, 0.1, "the slowest call of the scope")
	assert.GreaterOrEqual(t, tr.StartSeconds, 5.0)
	assert.Less(t, tr.StartSeconds, 10.0)
	assert.Equal(t, []string{"crash (crash api-2)"}, tr.Faults)
	var attempts []sim.SpanReport
	for _, s := range tr.Spans {
		if s.Kind == "attempt" {
			attempts = append(attempts, s)
		}
	}
	require.Len(t, attempts, 2, "%+v", tr.Spans)
	assert.Equal(t, "api-2", attempts[0].Node)
	assert.Equal(t, "unavailable", attempts[0].Code)
	assert.Equal(t, "retry", attempts[1].Attempt)
	assert.Equal(t, "call", tr.Spans[0].Kind)

	var page bytes.Buffer
	require.NoError(t, report.WriteHTML(&page, rep))
	html := page.String()
	assert.Contains(t, html, `class="waterfall" data-trace="`+tr.TraceID+`"`)
	assert.Equal(t, len(tr.Spans), strings.Count(html, `<div class="row" data-kind=`))
	assert.Contains(t, html, "api/Api.Get · attempt (retry)")
	assert.Contains(t, html, "faults active: crash (crash api-2)")
}

// A stream has one client span from its opening to its end, parent of
// the server's; a stream a crash interrupted ends failed.
func TestObservationTracesStreams(t *testing.T) {
	sc := &scenario.Scenario{
		Name: "streams", Seed: 6, Duration: scenario.D(10 * time.Second),
		Topology: scenario.Topology{Services: []scenario.Service{{Name: "chat", Instances: 2,
			Endpoints: []scenario.Endpoint{{Name: "Chat.Talk", Stream: true, Latency: scenario.Const(2 * time.Millisecond)}}}}},
		Workloads: []scenario.Workload{{Name: "talk", Service: "chat", Endpoint: "Chat.Talk", Rate: 10, Arrivals: "uniform",
			Stream: &scenario.StreamSpec{Messages: 10, Interval: scenario.D(100 * time.Millisecond)}}},
		Faults: []scenario.Fault{{Name: "crash", At: scenario.D(5*time.Second + 50*time.Millisecond), For: scenario.D(2 * time.Second),
			Crash: &scenario.NodeFault{Target: scenario.Target{Service: "chat", Instance: scenario.I(0)}}}},
	}
	obs, err := sim.NewObservation()
	require.NoError(t, err)
	rep, err := sim.RunWith(sim.TestRunner(t), sc, sim.WithObservation(obs))
	require.NoError(t, err)
	require.Positive(t, rep.Streams[0].Interrupted)
	failed, ok := 0, 0
	for _, tr := range obs.Traces() {
		root := tr.Spans[0]
		require.Equal(t, "chat/Chat.Talk", root.Name)
		require.Equal(t, "client", root.SpanKind.String())
		require.Len(t, tr.Spans, 2, "the client span and the server's")
		assert.Equal(t, root.SpanContext.SpanID(), tr.Spans[1].Parent.SpanID())
		assert.Equal(t, "server", tr.Spans[1].SpanKind.String())
		if tr.Failed {
			failed++
		} else {
			ok++
			// Ten messages of 2ms, 100ms apart: the stream lasts 0.92s
			// and a little (its end of stream, offsets of a few µs).
			d := root.EndTime.Sub(root.StartTime)
			assert.True(t, d >= 920*time.Millisecond && d < 935*time.Millisecond, "stream span of %v", d)
		}
	}
	assert.Equal(t, int(rep.Streams[0].Interrupted), failed, "every interrupted stream's trace is kept, failed")
	assert.Positive(t, ok)
}
