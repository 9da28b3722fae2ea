package metrics

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/service"
	"github.com/microsim/microsim/observe/internal/optjoin"
)

// ErrNilRegisterer: New was given no Registerer.
var ErrNilRegisterer = errors.New("metrics: nil Registerer")

// Label names.
const (
	LabelName     = "micro_name"     // the called or serving service
	LabelEndpoint = "micro_endpoint" // "Handler.Method"
	LabelStatus   = "micro_status"   // "success" or "failure"
	LabelCode     = "micro_code"     // the errors.Code name, "ok" on success
	LabelKind     = "micro_kind"     // an attempt's kind: "first", "retry" or "hedge"
	LabelTopic    = "micro_topic"    // a broker topic
	LabelClient   = "micro_client"   // the name a client collector was given
	LabelNodeID   = "micro_id"       // a node's registered ID
)

// Status label values.
const (
	StatusSuccess = "success"
	StatusFailure = "failure"
)

// DurationBuckets returns the upper bounds, in seconds, of the latency
// histograms: from half a millisecond (a call over loopback) to ten
// seconds (beyond the default call timeout of five).
func DurationBuckets() []float64 {
	return []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
}

// Metrics holds the request metrics of one registry and makes the
// wrappers that count into them. It is safe for concurrent use.
type Metrics struct {
	clientRequests *prometheus.CounterVec
	clientDuration *prometheus.HistogramVec
	clientAttempts *prometheus.CounterVec
	serverRequests *prometheus.CounterVec
	serverDuration *prometheus.HistogramVec
	published      *prometheus.CounterVec
	delivered      *prometheus.CounterVec
	endpoints      endpointSet // bounds the client's endpoint labels
}

// New registers the request metrics on reg, or takes those a former New
// registered there. It fails when reg holds other metrics of the same
// names.
func New(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, ErrNilRegisterer
	}
	var m Metrics
	var err error
	reqLabels := []string{LabelName, LabelEndpoint, LabelStatus, LabelCode}
	durLabels := []string{LabelName, LabelEndpoint}
	if m.clientRequests, err = counterVec(reg, "micro_client_request_total",
		"Calls made, by service, endpoint and outcome (after retries and hedges).", reqLabels); err != nil {
		return nil, err
	}
	if m.clientDuration, err = histogramVec(reg, "micro_client_request_duration_seconds",
		"Latency of calls made, retries and hedges included.", durLabels); err != nil {
		return nil, err
	}
	if m.clientAttempts, err = counterVec(reg, "micro_client_attempts_total",
		"Attempts sent, by service, endpoint, kind (first, retry, hedge) and outcome.",
		[]string{LabelName, LabelEndpoint, LabelKind, LabelCode}); err != nil {
		return nil, err
	}
	if m.serverRequests, err = counterVec(reg, "micro_server_request_total",
		"Requests handled, by service, endpoint and outcome.", reqLabels); err != nil {
		return nil, err
	}
	if m.serverDuration, err = histogramVec(reg, "micro_server_request_duration_seconds",
		"Latency of requests handled.", durLabels); err != nil {
		return nil, err
	}
	if m.published, err = counterVec(reg, "micro_broker_published_total",
		"Events published, by topic and outcome.", []string{LabelTopic, LabelStatus}); err != nil {
		return nil, err
	}
	if m.delivered, err = counterVec(reg, "micro_broker_delivered_total",
		"Events delivered to a subscriber, by topic and the subscriber's outcome.", []string{LabelTopic, LabelStatus}); err != nil {
		return nil, err
	}
	return &m, nil
}

func counterVec(reg prometheus.Registerer, name, help string, labels []string) (*prometheus.CounterVec, error) {
	return register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))
}

func histogramVec(reg prometheus.Registerer, name, help string, labels []string) (*prometheus.HistogramVec, error) {
	return register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: DurationBuckets()}, labels))
}

// register registers c on reg, or returns the equal collector already
// registered there.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	var zero C
	return zero, fmt.Errorf("metrics: register: %w", err)
}

// ClientOption installs the call, attempt and publish wrappers on a client.
func (m *Metrics) ClientOption() client.Option {
	return optjoin.Join(
		client.WithCallWrapper(m.CallWrapper),
		client.WithAttemptWrapper(m.AttemptWrapper),
		client.WithPublishWrapper(m.PublishWrapper),
	)
}

// ServerOption installs the handler and subscriber wrappers on a server.
func (m *Metrics) ServerOption() server.Option {
	return optjoin.Join(
		server.WithHandlerWrapper(m.HandlerWrapper),
		server.WithSubscriberWrapper(m.SubscriberWrapper),
	)
}

// ServiceOption counts a service's client and server requests.
func (m *Metrics) ServiceOption() service.Option {
	return optjoin.Join(
		service.WithClientOptions(m.ClientOption()),
		service.WithServerOptions(m.ServerOption()),
	)
}

// ClientOption is New(reg).ClientOption(); an error from New makes
// client.New fail.
func ClientOption(reg prometheus.Registerer) client.Option {
	m, err := New(reg)
	return optjoin.Of(m, err, (*Metrics).ClientOption)
}

// ServerOption is New(reg).ServerOption(); an error from New makes
// server.New fail.
func ServerOption(reg prometheus.Registerer) server.Option {
	m, err := New(reg)
	return optjoin.Of(m, err, (*Metrics).ServerOption)
}

// ServiceOption is New(reg).ServiceOption(); an error from New makes
// service.New fail.
func ServiceOption(reg prometheus.Registerer) service.Option {
	m, err := New(reg)
	return optjoin.Of(m, err, (*Metrics).ServiceOption)
}

// Handler serves g's metrics in the Prometheus text exposition format (or
// OpenMetrics, when the scraper asks for it).
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{EnableOpenMetrics: true})
}
