package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/microsim/microsim/observe/metrics"
	"github.com/microsim/microsim/observe/tracing"
)

// BenchmarkObserve is the cost of observability per call: a sequential
// unary 1 KiB call (as BenchmarkCallMemory and BenchmarkCallTCP at
// conc=1) with tracing and metrics off, tracing on (every call sampled:
// a call span, an attempt span and a server span, recorded by an SDK
// TracerProvider whose processor drops them once ended, so no exporter
// is measured), tracing with a sampler that records no call ("unsampled":
// spans are made but not recorded, and trace context still travels),
// metrics on (request and attempt counters and latency
// histograms on both sides, on a registry of the benchmark's own), and
// both. The modes run in the same process, one after the other.
//
//	go test -run '^$' -bench Observe ./bench/
func BenchmarkObserve(b *testing.B) {
	for _, tr := range []struct {
		name  string
		world func(testing.TB, worldOptions) *echoWorld
	}{{"memory", newMemoryWorldWith}, {"tcp", newTCPWorldWith}} {
		for _, mode := range []string{"off", "tracing", "unsampled", "metrics", "both"} {
			b.Run(fmt.Sprintf("transport=%s/mode=%s", tr.name, mode), func(b *testing.B) {
				benchEcho(b, tr.world(b, observeOptions(b, mode)), 1, 1<<10)
			})
		}
	}
}

// observeOptions returns the server and client options of a mode of
// BenchmarkObserve.
func observeOptions(b testing.TB, mode string) worldOptions {
	var o worldOptions
	if mode == "tracing" || mode == "unsampled" || mode == "both" {
		sampler := sdktrace.AlwaysSample()
		if mode == "unsampled" {
			sampler = sdktrace.NeverSample()
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithSpanProcessor(dropSpans{}))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		o.srv = append(o.srv, tracing.ServerOption(tp))
		o.cli = append(o.cli, tracing.ClientOption(tp))
	}
	if mode == "metrics" || mode == "both" {
		m, err := metrics.New(prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		o.srv = append(o.srv, m.ServerOption())
		o.cli = append(o.cli, m.ClientOption())
	}
	return o
}

// dropSpans is a span processor that lets every ended span go.
type dropSpans struct{}

func (dropSpans) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (dropSpans) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (dropSpans) Shutdown(context.Context) error                  { return nil }
func (dropSpans) ForceFlush(context.Context) error                { return nil }
