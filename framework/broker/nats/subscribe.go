package nats

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/microsim/microsim/framework/broker"
)

// Subscribe starts delivering the topic's messages to h on a goroutine of
// the subscription's own. It blocks for one round trip to the server so
// that the interest is registered before it returns (not while the
// connection is reconnecting: then the interest is sent on reconnect).
func (b *Broker) Subscribe(ctx context.Context, topic string, h broker.Handler, opts ...broker.SubscribeOption) (broker.Subscription, error) {
	if h == nil {
		return nil, errNilHandler
	}
	var o broker.SubscribeOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := validTopic(topic, true); err != nil {
		return nil, err
	}
	if err := validQueue(o.Queue); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if b.isClosed() {
		return nil, broker.ErrClosed
	}
	var ns *nats.Subscription
	var err error
	if o.Queue == "" {
		ns, err = b.nc.SubscribeSync(topic)
	} else {
		ns, err = b.nc.QueueSubscribeSync(topic, o.Queue)
	}
	if err != nil {
		return nil, b.mapErr("subscribe "+topic, err)
	}
	if b.nc.IsConnected() {
		fctx, cancel := b.withDeadline(ctx)
		err := b.nc.FlushWithContext(fctx)
		cancel()
		if err != nil && b.nc.IsConnected() {
			_ = ns.Unsubscribe()
			return nil, b.mapErr("subscribe "+topic, err)
		}
	}
	hctx, hcancel := context.WithCancel(context.Background())
	s := &subscription{b: b, topic: topic, queue: o.Queue, ns: ns, h: h, ctx: hctx, cancel: hcancel, done: make(chan struct{})}
	go s.run()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		_ = s.Close()
		return nil, broker.ErrClosed
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s, nil
}

// subscription implements broker.Subscription.
type subscription struct {
	b      *Broker
	topic  string
	queue  string
	ns     *nats.Subscription
	h      broker.Handler
	ctx    context.Context // the handlers' ctx, cancelled when the subscription closes
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns
	once   sync.Once
}

// Topic is the subscribed topic.
func (s *subscription) Topic() string { return s.topic }

// Queue is the queue group, or "".
func (s *subscription) Queue() string { return s.queue }

// Close drains the subscription: the server stops sending, the messages
// already received are handled (for at most the drain timeout), then the
// handler's ctx is cancelled. It blocks until the goroutine has returned.
// Idempotent.
func (s *subscription) Close() error {
	s.once.Do(func() {
		s.b.remove(s)
		if err := s.ns.Drain(); err == nil {
			t := time.NewTimer(s.b.drainTimeout)
			select {
			case <-s.done:
			case <-t.C:
			}
			t.Stop()
		}
		s.finish()
	})
	return nil
}

// stop ends a subscription whose connection is closed (Broker.Close).
func (s *subscription) stop() { s.once.Do(s.finish) }

// finish cancels the handler's ctx, waits for the goroutine and drops
// whatever the drain did not deliver.
func (s *subscription) finish() {
	s.cancel()
	<-s.done
	if s.ns.IsValid() {
		_ = s.ns.Unsubscribe()
	}
}

// run takes messages one at a time and handles them until the subscription
// is drained, closed or cancelled.
func (s *subscription) run() {
	defer close(s.done)
	for {
		msg, err := s.ns.NextMsgWithContext(s.ctx)
		switch {
		case err == nats.ErrSlowConsumer:
			s.b.report(s.topic, nil, fmt.Errorf("nats: %s: %w", s.topic, err))
			continue
		case err != nil:
			return
		}
		s.handle(msg)
	}
}

// handle calls the handler for one message, reporting its error or panic.
func (s *subscription) handle(msg *nats.Msg) {
	m := fromMsg(msg)
	defer func() {
		if p := recover(); p != nil {
			s.b.report(msg.Subject, m, fmt.Errorf("nats: handler for %s panicked: %v", msg.Subject, p))
		}
	}()
	if err := s.h(s.ctx, msg.Subject, m); err != nil {
		s.b.report(msg.Subject, m, err)
	}
}
