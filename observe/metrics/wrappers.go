package metrics

import (
	"context"
	"time"

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

// CallWrapper is a client.CallWrapper that counts each call by its
// outcome and observes its latency.
func (m *Metrics) CallWrapper(next client.CallFunc) client.CallFunc {
	return func(ctx context.Context, req *client.Request, rsp any) error {
		t0 := time.Now()
		err := next(ctx, req, rsp)
		m.clientDuration.WithLabelValues(req.Service, req.Endpoint).Observe(time.Since(t0).Seconds())
		m.clientRequests.WithLabelValues(req.Service, req.Endpoint, status(err), outcome.Code(err)).Inc()
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
		m.clientAttempts.WithLabelValues(req.Service, req.Endpoint, kind, outcome.Code(err)).Inc()
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
		m.serverDuration.WithLabelValues(req.Service, req.Endpoint).Observe(time.Since(t0).Seconds())
		m.serverRequests.WithLabelValues(req.Service, req.Endpoint, status(err), outcome.Code(err)).Inc()
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
