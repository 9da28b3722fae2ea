package memory

// The in-memory broker.
//
// One brokerState per Network holds the subscriptions of every topic; each
// Host.Broker call makes a client (hostBroker) that publishes and subscribes
// on behalf of its host. Publish copies the message once per receiving
// subscription and appends it to that subscription's unbounded FIFO queue:
// every plain subscription of the topic gets one, and each queue group gives
// it to exactly one member, chosen round robin in the order members joined.
// Each subscription has one goroutine that calls its handler for one
// message at a time (broker_sub.go), so a slow handler never blocks the
// publisher or any other subscription. A handler's error or recovered panic
// is counted (brokerState.failures) and otherwise ignored: delivery is at
// most once, nothing is redelivered. Mutexes are only held to move messages
// between queues, never across a wait.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/microsim/microsim/framework/broker"
)

// brokerState is the broker all hosts of a Network share.
type brokerState struct {
	mu     sync.Mutex
	topics map[string]*topicSubs

	// failures counts handler errors and recovered handler panics.
	failures atomic.Int64
}

// topicSubs are the live subscriptions of one topic.
type topicSubs struct {
	plain  []*subscription
	groups map[string]*queueGroup
}

// queueGroup is the members of one queue on one topic, in joining order;
// next is the member that gets the next message.
type queueGroup struct {
	members []*subscription
	next    int
}

func newBrokerState(_ *Network) *brokerState {
	return &brokerState{topics: make(map[string]*topicSubs)}
}

// crashHost closes every subscription made from host and waits for their
// handlers. Publish and Subscribe from the host fail while it is down (they
// check Host.Up).
func (s *brokerState) crashHost(host string) {
	s.mu.Lock()
	var subs []*subscription
	for _, t := range s.topics {
		for _, sub := range t.plain {
			if sub.c.h.name == host {
				subs = append(subs, sub)
			}
		}
		for _, g := range t.groups {
			for _, sub := range g.members {
				if sub.c.h.name == host {
					subs = append(subs, sub)
				}
			}
		}
	}
	s.mu.Unlock()
	for _, sub := range subs {
		sub.Close()
	}
}

// publish hands a copy of m to every receiving subscription of topic.
func (s *brokerState) publish(topic string, m *broker.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[topic]
	if t == nil {
		return
	}
	for _, sub := range t.plain {
		sub.enqueue(copyMessage(m))
	}
	for _, g := range t.groups {
		sub := g.members[g.next]
		g.next = (g.next + 1) % len(g.members)
		sub.enqueue(copyMessage(m))
	}
}

// addLocked makes sub receive its topic's messages. The caller holds s.mu.
func (s *brokerState) addLocked(sub *subscription) {
	t := s.topics[sub.topic]
	if t == nil {
		t = &topicSubs{groups: make(map[string]*queueGroup)}
		s.topics[sub.topic] = t
	}
	if sub.queue == "" {
		t.plain = append(t.plain, sub)
		return
	}
	g := t.groups[sub.queue]
	if g == nil {
		g = &queueGroup{}
		t.groups[sub.queue] = g
	}
	g.members = append(g.members, sub)
}

// remove stops sub from receiving messages; the rest of its queue group
// keeps its round-robin turn.
func (s *brokerState) remove(sub *subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[sub.topic]
	if t == nil {
		return
	}
	if sub.queue == "" {
		if i := slices.Index(t.plain, sub); i >= 0 {
			t.plain = slices.Delete(t.plain, i, i+1)
		}
	} else if g := t.groups[sub.queue]; g != nil {
		if i := slices.Index(g.members, sub); i >= 0 {
			g.members = slices.Delete(g.members, i, i+1)
			if i < g.next {
				g.next--
			}
			if g.next >= len(g.members) {
				g.next = 0
			}
		}
		if len(g.members) == 0 {
			delete(t.groups, sub.queue)
		}
	}
	if len(t.plain) == 0 && len(t.groups) == 0 {
		delete(s.topics, sub.topic)
	}
}

func copyMessage(m *broker.Message) *broker.Message {
	return &broker.Message{Header: maps.Clone(m.Header), Body: slices.Clone(m.Body)}
}

// hostBroker is a broker client on one host.
type hostBroker struct {
	h *Host
	s *brokerState

	mu     sync.Mutex
	closed bool
	subs   map[*subscription]struct{}
}

func newHostBroker(h *Host) broker.Broker {
	return &hostBroker{h: h, s: h.net.brk, subs: make(map[*subscription]struct{})}
}

var errNilBrokerMessage = errors.New("memory: nil broker message")

// check fails a call whose ctx is done, whose client is closed, whose topic
// is empty or whose host is down, in that order.
func (b *hostBroker) check(ctx context.Context, topic string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return broker.ErrClosed
	}
	if topic == "" {
		return fmt.Errorf("%w: empty topic", broker.ErrInvalidTopic)
	}
	if !b.h.Up() {
		return b.h.errDown(broker.ErrUnavailable)
	}
	return nil
}

// Publish queues a copy of m for every plain subscription of topic and for
// one member of each queue group on it, then returns; it does not wait for
// any handler. It does not block. A message published to a topic without
// subscribers is dropped.
func (b *hostBroker) Publish(ctx context.Context, topic string, m *broker.Message) error {
	if err := b.check(ctx, topic); err != nil {
		return err
	}
	if m == nil {
		return errNilBrokerMessage
	}
	b.s.publish(topic, m)
	return nil
}

// Subscribe starts delivering topic's messages to h on a goroutine of the
// subscription's own, one message at a time, in publication order. The
// handler's ctx keeps ctx's values and is cancelled when the subscription
// closes. With broker.Queue the subscription joins that queue group of the
// topic. It does not block.
func (b *hostBroker) Subscribe(ctx context.Context, topic string, h broker.Handler, opts ...broker.SubscribeOption) (broker.Subscription, error) {
	if err := b.check(ctx, topic); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("memory: nil broker handler")
	}
	var o broker.SubscribeOptions
	for _, opt := range opts {
		opt(&o)
	}
	sub := newSubscription(ctx, b, topic, o.Queue, h)

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		sub.cancel()
		return nil, broker.ErrClosed
	}
	b.s.mu.Lock()
	// Checked under s.mu so that a crash either sees this subscription or
	// happened before and fails it.
	if !b.h.Up() {
		b.s.mu.Unlock()
		b.mu.Unlock()
		sub.cancel()
		return nil, b.h.errDown(broker.ErrUnavailable)
	}
	b.s.addLocked(sub)
	b.s.mu.Unlock()
	b.subs[sub] = struct{}{}
	b.mu.Unlock()

	go sub.run()
	return sub, nil
}

// Close closes every subscription made through b and waits for their
// handlers; afterwards Publish and Subscribe fail with broker.ErrClosed.
// It must not be called from one of those handlers. Idempotent.
func (b *hostBroker) Close() error {
	b.mu.Lock()
	b.closed = true
	subs := make([]*subscription, 0, len(b.subs))
	for sub := range b.subs {
		subs = append(subs, sub)
	}
	b.mu.Unlock()
	for _, sub := range subs {
		sub.Close()
	}
	return nil
}

// forget drops a closed subscription from b's list.
func (b *hostBroker) forget(sub *subscription) {
	b.mu.Lock()
	delete(b.subs, sub)
	b.mu.Unlock()
}
