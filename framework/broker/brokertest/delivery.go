package brokertest

import (
	"context"
	"fmt"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/broker"
)

// testFanOut: every plain subscription, on any client, gets every message
// exactly once.
func testFanOut(w *world) {
	t := w.t
	const subs, msgs = 3, 1000
	pub, c1, c2 := w.client(), w.client(), w.client()
	topic := w.topic("fanout")
	r := newRecorder(topic)
	for i, c := range []broker.Broker{c1, c1, c2} {
		w.subscribe(c, topic, r.handler(i))
	}
	// Another topic's subscriber gets nothing.
	other := newRecorder(w.topic("other"))
	w.subscribe(c2, other.topic, other.handler(0))

	w.publish(pub, topic, 0, msgs)
	w.requireExactly(r, subs*msgs)
	for i := range subs {
		requireEach(t, r.got(i), 0, msgs, fmt.Sprint("subscriber ", i))
	}
	require.Zero(t, other.count(), "another topic's subscriber")
}

// testQueueGroup: each message goes to exactly one member of each queue
// group on the topic, every member gets some, and plain subscriptions
// still get all.
func testQueueGroup(w *world) {
	t := w.t
	const msgs = 1000
	pub := w.client()
	clients := []broker.Broker{w.client(), w.client(), w.client()}
	topic := w.topic("queue")
	workers, audit, plain := newRecorder(topic), newRecorder(topic), newRecorder(topic)
	for i, c := range clients {
		w.subscribe(c, topic, workers.handler(i), broker.Queue("workers"))
	}
	for i, c := range clients[:2] {
		w.subscribe(c, topic, audit.handler(i), broker.Queue("audit"))
	}
	w.subscribe(clients[2], topic, plain.handler(0))

	w.publish(pub, topic, 0, msgs)
	w.waitTotal(workers, msgs)
	w.waitTotal(audit, msgs)
	w.waitTotal(plain, msgs)
	w.settle()
	for _, g := range []struct {
		name    string
		r       *recorder
		members int
	}{{"workers", workers, 3}, {"audit", audit, 2}} {
		var all []int
		for i := range g.members {
			got := g.r.got(i)
			require.NotEmpty(t, got, "%s member %d got nothing", g.name, i)
			all = append(all, got...)
		}
		requireEach(t, all, 0, msgs, g.name)
	}
	requireEach(t, plain.got(0), 0, msgs, "plain subscriber")
}

// testOrdering: a subscription sees one publisher's messages in
// publication order.
func testOrdering(w *world) {
	t := w.t
	const msgs = 1000
	pub, c1, c2 := w.client(), w.client(), w.client()
	topic := w.topic("order")
	r := newRecorder(topic)
	w.subscribe(c1, topic, r.handler(0))
	w.subscribe(c2, topic, r.handler(1), broker.Queue("solo"))
	w.publish(pub, topic, 0, msgs)
	w.requireExactly(r, 2*msgs)
	requireSequence(t, r.got(0), 0, msgs, "plain subscriber")
	requireSequence(t, r.got(1), 0, msgs, "queue member")
}

// testSlowSubscriber: a subscriber stuck in its handler holds up neither
// the publisher nor the other subscribers, and afterwards gets everything
// in order.
func testSlowSubscriber(w *world) {
	t := w.t
	const msgs = 200
	pub, c1, c2 := w.client(), w.client(), w.client()
	topic := w.topic("slow")
	fast, slow := newRecorder(topic), newRecorder(topic)
	entered, release := make(chan struct{}), make(chan struct{})
	enter, unblock := closeOnce(entered), closeOnce(release)
	slowHandler := slow.handler(0)
	w.subscribe(c1, topic, func(ctx context.Context, topic string, m *broker.Message) error {
		enter()
		<-release
		return slowHandler(ctx, topic, m)
	})
	t.Cleanup(unblock) // before the subscription's Close, should the test fail
	w.subscribe(c2, topic, fast.handler(0))

	published := w.goErr(func() error {
		for n := range msgs {
			if err := pub.Publish(w.ctx, topic, message(n)); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, receive(w, published, "publishing while a subscriber is stuck"))
	w.requireExactly(fast, msgs)
	requireSequence(t, fast.got(0), 0, msgs, "fast subscriber")
	receive(w, entered, "the slow handler's first call")
	require.Zero(t, slow.count(), "the slow handler is still stuck")

	unblock()
	w.requireExactly(slow, msgs)
	requireSequence(t, slow.got(0), 0, msgs, "slow subscriber")
}

// testMessageCopy: a handler gets the header and body as published, even if
// the publisher changes its message as soon as Publish returns.
func testMessageCopy(w *world) {
	t := w.t
	pub, c1 := w.client(), w.client()
	topic := w.topic("copy")
	got := make(chan *broker.Message, 1)
	w.subscribe(c1, topic, func(_ context.Context, _ string, m *broker.Message) error {
		got <- m
		return nil
	})
	m := &broker.Message{
		Header: map[string]string{"Content-Type": "application/json", "X-Trace": "abc"},
		Body:   []byte(`{"hello":"world"}`),
	}
	require.NoError(t, pub.Publish(w.ctx, topic, m))
	m.Header["X-Trace"] = "changed"
	m.Header["X-Added"] = "added"
	copy(m.Body, "XXXXXXX")
	r := receive(w, got, "the delivery")
	require.Equal(t, map[string]string{"Content-Type": "application/json", "X-Trace": "abc"}, r.Header)
	require.Equal(t, []byte(`{"hello":"world"}`), r.Body)
}
