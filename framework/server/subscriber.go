package server

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"reflect"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/internal/lograte"
	"github.com/microsim/microsim/framework/internal/wire"
	"github.com/microsim/microsim/framework/metadata"
)

// acceptedSubscriber is quoted by every subscriber signature error.
const acceptedSubscriber = "accepted signature: func(ctx context.Context, msg *T) error"

// subscriber is one registered Subscribe.
type subscriber struct {
	topic string
	queue string       // "" for a plain subscription
	typ   reflect.Type // *T
	fn    reflect.Value
	h     SubscriberFunc // fn through the server's wrappers
}

// Subscribe implements Server. The default queue group is the service name.
func (s *server) Subscribe(topic string, fn any, opts ...SubscribeOption) error {
	if s.opts.broker == nil {
		return fmt.Errorf("%w: Subscribe(%q): server %q was built without a broker; use server.WithBroker", ErrNoBroker, topic, s.name)
	}
	if topic == "" {
		return fmt.Errorf("%w: Subscribe: empty topic", ErrInvalidHandler)
	}
	so := subscribeOptions{queue: s.name}
	for _, o := range opts {
		if o == nil {
			return fmt.Errorf("%w: Subscribe(%q): nil option", ErrInvalidHandler, topic)
		}
		if err := o(&so); err != nil {
			return fmt.Errorf("%w: Subscribe(%q): %w", ErrInvalidHandler, topic, err)
		}
	}
	if fn == nil {
		return fmt.Errorf("%w: Subscribe(%q): nil function; %s", ErrInvalidHandler, topic, acceptedSubscriber)
	}
	v := reflect.ValueOf(fn)
	t := v.Type()
	if t.Kind() != reflect.Func || t.IsVariadic() || t.NumIn() != 2 || t.In(0) != typeContext ||
		t.In(1).Kind() != reflect.Pointer || t.NumOut() != 1 || t.Out(0) != typeError {
		return fmt.Errorf("%w: Subscribe(%q): function has signature %v; %s", ErrInvalidHandler, topic, t, acceptedSubscriber)
	}
	if v.IsNil() {
		return fmt.Errorf("%w: Subscribe(%q): nil function of type %v", ErrInvalidHandler, topic, t)
	}
	sub := &subscriber{topic: topic, queue: so.queue, typ: t.In(1), fn: v}
	sub.h = sub.call
	for i := len(s.opts.sWrappers) - 1; i >= 0; i-- {
		sub.h = s.opts.sWrappers[i](sub.h)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateIdle {
		return fmt.Errorf("%w: Subscribe(%q) after Start", ErrStarted, topic)
	}
	s.subs = append(s.subs, sub)
	return nil
}

// call is the innermost SubscriberFunc: it calls the function.
func (sub *subscriber) call(ctx context.Context, msg *Message) error {
	arg, err := argValue(msg.Payload, sub.typ, "payload")
	if err != nil {
		return err
	}
	out := sub.fn.Call([]reflect.Value{reflect.ValueOf(&ctx).Elem(), arg})
	return asError(out[0])
}

// subscribe makes sub's broker subscription. It blocks as the broker's
// Subscribe does.
func (s *server) subscribe(ctx context.Context, sub *subscriber) (broker.Subscription, error) {
	var opts []broker.SubscribeOption
	if sub.queue != "" {
		opts = append(opts, broker.Queue(sub.queue))
	}
	bs, err := s.opts.broker.Subscribe(ctx, sub.topic, s.brokerHandler(sub), opts...)
	if err != nil {
		return nil, s.errorf("subscribe to %q (queue %q): %w", sub.topic, sub.queue, err)
	}
	return bs, nil
}

// brokerHandler decodes an event with the codec its Micro-Content-Type
// header names, puts its other non-reserved headers into the ctx metadata
// and runs the subscriber. Errors (and panics) are logged and returned to
// the broker; they cause no redelivery.
func (s *server) brokerHandler(sub *subscriber) broker.Handler {
	return func(ctx context.Context, topic string, m *broker.Message) (err error) {
		defer func() {
			if p := recover(); p != nil {
				s.logs.Log(ctx, s.opts.log, slog.LevelError, "server: subscriber panicked", "service", s.name, "topic", topic, "panic", p, "stack", lograte.Stack{})
				err = fmt.Errorf("server %q: subscriber of %q panicked: %v", s.name, topic, p)
			}
			if err != nil {
				s.logs.Log(ctx, s.opts.log, slog.LevelWarn, "server: subscriber failed", "service", s.name, "topic", topic, "err", err)
			}
		}()
		ct := m.Header[wire.ContentType]
		if ct == "" {
			return s.errorf("event on %q has no %s header", topic, wire.ContentType)
		}
		cd, err := s.opts.codecs.Lookup(ct)
		if err != nil {
			return s.errorf("event on %q: %w", topic, err)
		}
		payload := reflect.New(sub.typ.Elem()).Interface()
		if err := cd.Unmarshal(m.Body, payload); err != nil {
			return s.errorf("decode event on %q as %s into %v: %w", topic, ct, sub.typ, err)
		}
		msg := &Message{Topic: topic, ContentType: ct, Header: maps.Clone(m.Header), Payload: payload}
		return sub.h(metadata.NewContext(ctx, metadata.FromHeader(m.Header)), msg)
	}
}
