package memory

import (
	"context"
	"sync"

	"github.com/microsim/microsim/framework/broker"
)

// subscription is a broker.Subscription of the in-memory broker: an
// unbounded FIFO queue of messages and one goroutine (run) that hands them
// to the handler one at a time.
type subscription struct {
	c     *hostBroker
	topic string
	queue string
	h     broker.Handler

	ctx    context.Context // the handler's; cancelled by Close
	cancel context.CancelFunc
	notify chan struct{} // capacity 1: "the queue may be non-empty"
	done   chan struct{} // closed by Close
	exited chan struct{} // closed when run returns

	mu      sync.Mutex
	pending []*broker.Message
	closed  bool
}

// newSubscription returns a subscription whose goroutine is not started.
func newSubscription(ctx context.Context, c *hostBroker, topic, queue string, h broker.Handler) *subscription {
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &subscription{
		c:      c,
		topic:  topic,
		queue:  queue,
		h:      h,
		ctx:    hctx,
		cancel: cancel,
		notify: make(chan struct{}, 1),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
}

// Topic is the subscribed topic.
func (s *subscription) Topic() string { return s.topic }

// Queue is the queue group, or "" for a plain subscription.
func (s *subscription) Queue() string { return s.queue }

// enqueue appends m to the queue. It does not block.
func (s *subscription) enqueue(m *broker.Message) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.pending = append(s.pending, m)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// next pops the oldest queued message; m is nil when the queue is empty,
// and closed reports that the subscription was closed.
func (s *subscription) next() (m *broker.Message, closed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.pending) == 0 {
		return nil, s.closed
	}
	m = s.pending[0]
	s.pending[0] = nil
	s.pending = s.pending[1:]
	if len(s.pending) == 0 {
		s.pending = nil
	}
	return m, false
}

// run is the subscription's goroutine: it delivers queued messages in order
// until Close.
func (s *subscription) run() {
	defer close(s.exited)
	for {
		select {
		case <-s.done:
			return
		case <-s.notify:
		}
		for {
			m, closed := s.next()
			if closed {
				return
			}
			if m == nil {
				break
			}
			s.deliver(m)
		}
	}
}

// deliver calls the handler, counting an error or a recovered panic as a
// failure; neither stops delivery nor causes redelivery.
func (s *subscription) deliver(m *broker.Message) {
	defer func() {
		if r := recover(); r != nil {
			s.c.s.failures.Add(1)
		}
	}()
	if err := s.h(s.ctx, s.topic, m); err != nil {
		s.c.s.failures.Add(1)
	}
}

// Close stops delivery, drops the queued messages, cancels the handler's
// ctx and waits for a running handler to return. Queue-group messages
// published afterwards go to the remaining members. It must not be called
// from the subscription's own handler. Idempotent; a concurrent second
// Close waits too.
func (s *subscription) Close() error {
	s.mu.Lock()
	first := !s.closed
	s.closed = true
	s.pending = nil
	s.mu.Unlock()
	if first {
		s.c.s.remove(s)
		s.c.forget(s)
		s.cancel()
		close(s.done)
	}
	<-s.exited
	return nil
}
