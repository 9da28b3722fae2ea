package metrics_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/service"
	"github.com/microsim/microsim/memory"
	"github.com/microsim/microsim/observe/internal/echo"
	"github.com/microsim/microsim/observe/metrics"
)

type Event struct{ N int }

// world is two "echo" services (echo-a, echo-b), each on a host of its
// own, and a service "caller", all counting into one registry.
type world struct {
	net    *memory.Network
	reg    *prometheus.Registry
	hosts  []*memory.Host
	echoes []*service.Service
	caller *service.Service
}

func newWorld(t *testing.T, callerOpts ...client.Option) *world {
	t.Helper()
	w := &world{net: memory.MustNetwork(), reg: prometheus.NewRegistry()}
	t.Cleanup(func() { _ = w.net.Close() })
	ctx := context.Background()
	start := func(name, host string, opts ...service.Option) *service.Service {
		h := w.net.Host(host)
		w.hosts = append(w.hosts, h)
		svc, err := service.New(name, h.Transport(), h.Registry(), append([]service.Option{
			service.WithSignals(), service.WithBroker(h.Broker()), metrics.ServiceOption(w.reg)}, opts...)...)
		require.NoError(t, err)
		require.NoError(t, svc.Handle(Echo{}))
		if name == "echo" {
			require.NoError(t, svc.Subscribe("events", func(_ context.Context, e *Event) error {
				if e.N < 0 {
					return errors.New("echo", errors.BadRequest, "negative")
				}
				return nil
			}))
		}
		require.NoError(t, svc.Start(ctx))
		t.Cleanup(func() { _ = svc.Stop(context.Background()) })
		return svc
	}
	for _, id := range []string{"echo-a", "echo-b"} {
		w.echoes = append(w.echoes, start("echo", id, service.WithServerOptions(server.WithID(id), server.WithMaxConcurrent(1))))
	}
	w.caller = start("caller", "caller", service.WithClientOptions(callerOpts...))
	return w
}

func (w *world) call(req *EchoRequest, opts ...client.CallOption) error {
	return w.caller.Client().Call(context.Background(), "echo", "Echo.Say", req, &EchoReply{}, opts...)
}

// value returns the value of the series of name with exactly labels in
// reg: a counter's or gauge's value, a histogram's sample count (and its
// sum in sum). It fails the test when there is no such series.
func value(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) (v, sum float64) {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(want) {
				continue
			}
			for _, lp := range m.GetLabel() {
				if want[lp.GetName()] != lp.GetValue() {
					continue series
				}
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue(), 0
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue(), 0
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount()), m.GetHistogram().GetSampleSum()
			}
		}
	}
	t.Fatalf("no series %s%v", name, want)
	return 0, 0
}

func count(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	v, _ := value(t, reg, name, labels...)
	return v
}

func TestRequestAndAttemptMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A budget of a quarter retry per call: the fifth call's first
		// retry is granted (1 <= 1.25), its second refused.
		w := newWorld(t, client.WithRetryBudget(client.RetryBudget{Ratio: 0.25}))
		for range 3 {
			require.NoError(t, w.call(&EchoRequest{Text: "x", Sleep: 20 * time.Millisecond}))
		}
		require.Error(t, w.call(&EchoRequest{Fail: "not_found"}))
		require.Error(t, w.call(&EchoRequest{Fail: "unavailable"}))

		svcEP := []string{"micro_name", "echo", "micro_endpoint", "Echo.Say"}
		with := func(kv ...string) []string { return append(append([]string(nil), svcEP...), kv...) }
		assert.Equal(t, 3.0, count(t, w.reg, "micro_client_request_total", with("micro_status", "success", "micro_code", "ok")...))
		assert.Equal(t, 1.0, count(t, w.reg, "micro_client_request_total", with("micro_status", "failure", "micro_code", "not_found")...))
		assert.Equal(t, 1.0, count(t, w.reg, "micro_client_request_total", with("micro_status", "failure", "micro_code", "unavailable")...))
		assert.Equal(t, 3, testutil.CollectAndCount(w.reg, "micro_client_request_total"), "three series")

		n, sum := value(t, w.reg, "micro_client_request_duration_seconds", svcEP...)
		assert.Equal(t, 5.0, n)
		// Three calls of 20 ms (virtual time), two of none but for the
		// backoff of one retry (under 10 ms).
		assert.True(t, sum >= 0.060 && sum < 0.070, "client latency sum %v", sum)
		n, sum = value(t, w.reg, "micro_server_request_duration_seconds", svcEP...)
		assert.Equal(t, 6.0, n, "the server handled six requests: 3 ok, 1 not found, 2 unavailable")
		assert.InDelta(t, 0.060, sum, 1e-9)
		assert.Equal(t, 3.0, count(t, w.reg, "micro_server_request_total", with("micro_status", "success", "micro_code", "ok")...))
		assert.Equal(t, 2.0, count(t, w.reg, "micro_server_request_total", with("micro_status", "failure", "micro_code", "unavailable")...))

		assert.Equal(t, 3.0, count(t, w.reg, "micro_client_attempts_total", with("micro_kind", "first", "micro_code", "ok")...))
		assert.Equal(t, 1.0, count(t, w.reg, "micro_client_attempts_total", with("micro_kind", "first", "micro_code", "not_found")...))
		assert.Equal(t, 1.0, count(t, w.reg, "micro_client_attempts_total", with("micro_kind", "first", "micro_code", "unavailable")...))
		assert.Equal(t, 1.0, count(t, w.reg, "micro_client_attempts_total", with("micro_kind", "retry", "micro_code", "unavailable")...))
		assert.Equal(t, 4, testutil.CollectAndCount(w.reg, "micro_client_attempts_total"))

		cc, err := metrics.NewServiceCollector(w.caller, "echo")
		require.NoError(t, err)
		require.NoError(t, w.reg.Register(cc))
		assert.Equal(t, 1.0, count(t, w.reg, "micro_client_retries_total", "micro_client", "caller"))
		assert.Equal(t, 1.0, count(t, w.reg, "micro_client_retries_denied_total", "micro_client", "caller"), "the retry budget refused one retry")
		assert.Equal(t, 0.0, count(t, w.reg, "micro_client_hedges_total", "micro_client", "caller"))
		var requests, failures float64
		for _, id := range []string{"echo-a", "echo-b"} {
			node := []string{"micro_client", "caller", "micro_name", "echo", "micro_id", id}
			requests += count(t, w.reg, "micro_selector_node_requests_total", node...)
			failures += count(t, w.reg, "micro_selector_node_failures_total", node...)
			assert.Equal(t, 0.0, count(t, w.reg, "micro_selector_node_ejected", node...))
			assert.Equal(t, 0.0, count(t, w.reg, "micro_selector_node_in_flight", node...))
		}
		assert.Equal(t, 6.0, requests, "the selector counted every attempt")
		assert.Equal(t, 3.0, failures)
	})
}

func TestServerCollectorCountsInFlightAndRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		for i, id := range []string{"echo-a", "echo-b"} {
			sc, err := metrics.NewServerCollector(id, w.echoes[i].Server())
			require.NoError(t, err)
			require.NoError(t, w.reg.Register(sc))
		}
		// Four calls of 1 s at once on two servers that take one each,
		// with no retry: two served, two refused.
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				errs[i] = w.call(&EchoRequest{Sleep: time.Second}, client.WithCallRetry(client.NoRetry{}))
			})
		}
		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		assert.Equal(t, 1.0, count(t, w.reg, "micro_server_in_flight", "micro_name", "echo-a"))
		assert.Equal(t, 1.0, count(t, w.reg, "micro_server_in_flight", "micro_name", "echo-b"))
		wg.Wait()
		refused := count(t, w.reg, "micro_server_refused_total", "micro_name", "echo-a") +
			count(t, w.reg, "micro_server_refused_total", "micro_name", "echo-b")
		assert.Equal(t, 2.0, refused)
		var failed int
		for _, err := range errs {
			if err != nil {
				failed++
				assert.Equal(t, errors.Unavailable, errors.CodeOf(err))
			}
		}
		assert.Equal(t, 2, failed)
		assert.Equal(t, 0.0, count(t, w.reg, "micro_server_in_flight", "micro_name", "echo-a"))
		assert.Equal(t, 2.0, count(t, w.reg, "micro_server_request_total",
			"micro_name", "echo", "micro_endpoint", "Echo.Say", "micro_status", "success", "micro_code", "ok"),
			"refused requests never reach the handler wrappers")
	})
}

func TestBrokerMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		ctx := context.Background()
		require.NoError(t, w.caller.Client().Publish(ctx, "events", &Event{N: 1}))
		require.NoError(t, w.caller.Client().Publish(ctx, "events", &Event{N: -1}))
		synctest.Wait()
		assert.Equal(t, 2.0, count(t, w.reg, "micro_broker_published_total", "micro_topic", "events", "micro_status", "success"))
		assert.Equal(t, 1.0, count(t, w.reg, "micro_broker_delivered_total", "micro_topic", "events", "micro_status", "success"))
		assert.Equal(t, 1.0, count(t, w.reg, "micro_broker_delivered_total", "micro_topic", "events", "micro_status", "failure"))
	})
}

func TestSeveralMetricsShareOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	m1, err := metrics.New(reg)
	require.NoError(t, err)
	m2, err := metrics.New(reg)
	require.NoError(t, err)
	assert.NotNil(t, m1)
	assert.NotNil(t, m2)

	clash := prometheus.NewRegistry()
	require.NoError(t, clash.Register(prometheus.NewCounter(prometheus.CounterOpts{Name: "micro_client_request_total", Help: "other"})))
	_, err = metrics.New(clash)
	assert.ErrorContains(t, err, "micro_client_request_total")

	_, err = metrics.New(nil)
	assert.ErrorIs(t, err, metrics.ErrNilRegisterer)
	n := memory.MustNetwork()
	defer n.Close()
	_, err = service.New("x", n.Transport(), n.Registry(), metrics.ServiceOption(nil))
	assert.ErrorIs(t, err, metrics.ErrNilRegisterer)
}

func TestHandlerServesTheExposition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		require.NoError(t, w.call(&EchoRequest{Text: "x"}))
		rec := httptest.NewRecorder()
		metrics.Handler(w.reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		assert.Equal(t, 200, rec.Code)
		body := rec.Body.String()
		assert.Contains(t, body, "# TYPE micro_client_request_total counter")
		assert.Contains(t, body, `micro_client_request_total{micro_code="ok",micro_endpoint="Echo.Say",micro_name="echo",micro_status="success"} 1`)
		assert.True(t, strings.Contains(body, "micro_server_request_duration_seconds_bucket"))
	})
}

type (
	Echo        = echo.Echo
	EchoRequest = echo.Request
	EchoReply   = echo.Reply
)
