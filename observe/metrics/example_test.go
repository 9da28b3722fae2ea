package metrics_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/microsim/microsim/framework/service"
	"github.com/microsim/microsim/memory"
	"github.com/microsim/microsim/observe/metrics"
	"github.com/microsim/microsim/observe/tracing"
)

// A service with traces, metrics and logs turned on, each from an object
// passed in: a TracerProvider, a Prometheus registry, a slog.Logger.
func Example() {
	ctx := context.Background()
	net := memory.MustNetwork()
	defer net.Close()
	h := net.Host("node-1")

	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(ctx)
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelWarn}))

	svc, err := service.New("echo", h.Transport(), h.Registry(), service.WithSignals(),
		tracing.ServiceOption(tp),  // spans per call, attempt, request, event
		metrics.ServiceOption(reg), // request, attempt and broker metrics
		service.WithLogger(log))    // the service's logs
	if err != nil {
		panic(err)
	}
	if err := svc.Handle(Echo{}); err != nil {
		panic(err)
	}
	if err := svc.Start(ctx); err != nil {
		panic(err)
	}
	defer svc.Stop(ctx)
	// The client's, the selector's and the server's own counters, read
	// when Prometheus scrapes.
	sc, err := metrics.NewServiceCollector(svc, "echo")
	if err != nil {
		panic(err)
	}
	reg.MustRegister(sc)

	if err := svc.Client().Call(ctx, "echo", "Echo.Say", &EchoRequest{Text: "hi"}, &EchoReply{}); err != nil {
		panic(err)
	}

	// What a scrape of /metrics (metrics.Handler) shows.
	rec := httptest.NewRecorder()
	metrics.Handler(reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		// (micro_server_in_flight drops to 0 only once the server has
		// sent the reply, which may be just after the call returned: it
		// is left out of this output.)
		if strings.HasPrefix(line, "micro_client_request_total") {
			fmt.Println(line)
		}
	}
	for _, s := range spans.GetSpans() {
		fmt.Println(s.SpanKind, s.Name)
	}
	// Output:
	// micro_client_request_total{micro_code="ok",micro_endpoint="Echo.Say",micro_name="echo",micro_status="success"} 1
	// server echo/Echo.Say
	// client echo/Echo.Say
	// internal echo/Echo.Say
}
