package brokertest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/broker"
)

// testCloseWaitsForHandler: Subscription.Close returns only after the
// running handler has, and the handler is not called again; Close is
// idempotent.
func testCloseWaitsForHandler(w *world) {
	t := w.t
	pub, c1 := w.client(), w.client()
	topic := w.topic("close")
	started, release := make(chan struct{}), make(chan struct{})
	start, unblock := closeOnce(started), closeOnce(release)
	var calls atomic.Int32
	var returned atomic.Bool
	sub := w.subscribe(c1, topic, func(context.Context, string, *broker.Message) error {
		calls.Add(1)
		start()
		<-release
		returned.Store(true)
		return nil
	})
	t.Cleanup(unblock) // before the subscription's Close, should the test fail

	w.publish(pub, topic, 0, 1)
	receive(w, started, "the handler's call")
	closed := w.goErr(sub.Close)
	w.settle()
	select {
	case <-closed:
		t.Fatal("Close returned while the handler was running")
	default:
	}
	unblock()
	require.NoError(t, receive(w, closed, "Close"))
	require.True(t, returned.Load(), "Close returned before the handler")
	require.NoError(t, sub.Close(), "second Close")

	w.publish(pub, topic, 1, 10)
	w.settle()
	require.Equal(t, int32(1), calls.Load(), "handler calls after Close")
}

// testClosedBroker: closing a client closes its subscriptions; Publish and
// Subscribe on it fail with ErrClosed; Close is idempotent.
func testClosedBroker(w *world) {
	t := w.t
	pub, c1 := w.client(), w.client()
	topic := w.topic("closed")
	r := newRecorder(topic)
	sub := w.subscribe(c1, topic, r.handler(0))
	w.publish(pub, topic, 0, 1)
	w.waitTotal(r, 1)

	require.NoError(t, c1.Close())
	require.NoError(t, c1.Close(), "second Close")
	require.ErrorIs(t, c1.Publish(w.ctx, topic, message(1)), broker.ErrClosed)
	_, err := c1.Subscribe(w.ctx, topic, r.handler(1))
	require.ErrorIs(t, err, broker.ErrClosed)

	w.publish(pub, topic, 1, 10)
	w.settle()
	require.Equal(t, 1, r.count(), "deliveries to a closed client's subscription")
	require.NoError(t, sub.Close(), "closing a subscription of a closed client")
}

// testInvalidTopic: an empty topic is ErrInvalidTopic.
func testInvalidTopic(w *world) {
	t := w.t
	c := w.client()
	require.ErrorIs(t, c.Publish(w.ctx, "", message(0)), broker.ErrInvalidTopic)
	_, err := c.Subscribe(w.ctx, "", newRecorder("").handler(0))
	require.ErrorIs(t, err, broker.ErrInvalidTopic)
	_, err = c.Subscribe(w.ctx, "", newRecorder("").handler(0), broker.Queue("q"))
	require.ErrorIs(t, err, broker.ErrInvalidTopic)
}

// testUnsubscribe: a closed queue member gets no more messages, which go to
// the remaining members; a closed plain subscription gets none either.
func testUnsubscribe(w *world) {
	t := w.t
	const before, after = 30, 300
	pub := w.client()
	topic := w.topic("unsub")
	group, plain := newRecorder(topic), newRecorder(topic)
	var members []broker.Subscription
	for i := range 3 {
		members = append(members, w.subscribe(w.client(), topic, group.handler(i), broker.Queue("workers")))
	}
	plainSub := w.subscribe(w.client(), topic, plain.handler(0))
	w.publish(pub, topic, 0, before)
	w.waitTotal(group, before)
	w.waitTotal(plain, before)

	require.NoError(t, members[0].Close())
	require.NoError(t, plainSub.Close())
	w.publish(pub, topic, before, before+after)
	w.requireExactly(group, before+after)
	w.settle()
	require.Equal(t, before, plain.count(), "deliveries to a closed plain subscription")

	var all []int
	for i := range 3 {
		var later []int
		for _, n := range group.got(i) {
			if n >= before {
				later = append(later, n)
			}
		}
		if i == 0 {
			require.Empty(t, later, "a closed member got messages")
		} else {
			require.NotEmpty(t, later, "member %d got none of the later messages", i)
		}
		all = append(all, group.got(i)...)
	}
	requireEach(t, all, 0, before+after, "queue group")
}

// testHandlerPanic: a handler that panics or fails does not stop delivery
// of the following messages, and no message is delivered again.
func testHandlerPanic(w *world) {
	t := w.t
	const msgs = 30
	pub, c1 := w.client(), w.client()
	topic := w.topic("panic")
	r := newRecorder(topic)
	record := r.handler(0)
	var mu sync.Mutex
	calls := map[int]int{}
	w.subscribe(c1, topic, func(ctx context.Context, topic string, m *broker.Message) error {
		n, err := number(m)
		if err == nil {
			mu.Lock()
			calls[n]++
			mu.Unlock()
		}
		switch n % 3 {
		case 0:
			panic("brokertest: handler panic")
		case 1:
			return errFailed
		}
		return record(ctx, topic, m)
	})
	w.publish(pub, topic, 0, msgs)
	// The last message (29) is recorded, so every earlier one was handled.
	w.waitTotal(r, msgs/3)
	w.settle()
	var want []int
	for n := 2; n < msgs; n += 3 {
		want = append(want, n)
	}
	require.Equal(t, want, r.got(0))
	mu.Lock()
	defer mu.Unlock()
	for n := range msgs {
		require.Equal(t, 1, calls[n], "handler calls for message %d", n)
	}
}

var errFailed = errors.New("brokertest: handler failed")
