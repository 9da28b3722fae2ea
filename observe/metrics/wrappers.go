package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/observe/internal/outcome"
)

// status is the LabelStatus value of err.
func status(err error) string {
	if err == nil {
		return StatusSuccess
	}
	return StatusFailure
}

// observe counts a call (or request) of service's endpoint that began at
// t0 and ended with err in reqs, and its latency in dur.
func observe(reqs *prometheus.CounterVec, dur *prometheus.HistogramVec, service, endpoint string, t0 time.Time, err error) {
	dur.WithLabelValues(service, endpoint).Observe(time.Since(t0).Seconds())
	reqs.WithLabelValues(service, endpoint, status(err), outcome.Code(err)).Inc()
}

// CallWrapper is a client.CallWrapper that counts each call by its
// outcome and observes its latency.
func (m *Metrics) CallWrapper(next client.CallFunc) client.CallFunc {
	return func(ctx context.Context, req *client.Request, rsp any) error {
		t0 := time.Now()
		err := next(ctx, req, rsp)
		observe(m.clientRequests, m.clientDuration, req.Service, m.endpoints.label(req.Service, req.Endpoint), t0, err)
		return err
	}
}

// AttemptWrapper is a client.AttemptWrapper that counts each attempt by
// kind and outcome.
func (m *Metrics) AttemptWrapper(next client.AttemptFunc) client.AttemptFunc {
	return func(ctx context.Context, addr string, req *client.Request, rsp any) error {
		kind := client.AttemptFirst
		if a, ok := client.AttemptFromContext(ctx); ok {
			kind = a.Kind()
		}
		err := next(ctx, addr, req, rsp)
		m.clientAttempts.WithLabelValues(req.Service, m.endpoints.label(req.Service, req.Endpoint), kind, outcome.Code(err)).Inc()
		return err
	}
}

// PublishWrapper is a client.PublishWrapper that counts each publish by
// topic and outcome.
func (m *Metrics) PublishWrapper(next client.PublishFunc) client.PublishFunc {
	return func(ctx context.Context, topic string, msg *broker.Message) error {
		err := next(ctx, topic, msg)
		m.published.WithLabelValues(topic, status(err)).Inc()
		return err
	}
}

// HandlerWrapper is a server.HandlerWrapper that counts each handled
// request by its outcome and observes its latency. Requests refused
// before reaching the handlers (overload, unknown endpoint) are not
// counted here; NewServerCollector counts the refused ones.
func (m *Metrics) HandlerWrapper(next server.HandlerFunc) server.HandlerFunc {
	return func(ctx context.Context, req *server.Request, rsp any) error {
		t0 := time.Now()
		err := next(ctx, req, rsp)
		observe(m.serverRequests, m.serverDuration, req.Service, req.Endpoint, t0, err)
		return err
	}
}

// SubscriberWrapper is a server.SubscriberWrapper that counts each
// delivered event by topic and the subscriber's outcome.
func (m *Metrics) SubscriberWrapper(next server.SubscriberFunc) server.SubscriberFunc {
	return func(ctx context.Context, msg *server.Message) error {
		err := next(ctx, msg)
		m.delivered.WithLabelValues(msg.Topic, status(err)).Inc()
		return err
	}
}
