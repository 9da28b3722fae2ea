package brokertest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/internal/testname"
)

// Suite describes the broker under test.
type Suite struct {
	// New returns, for one subtest, a function that makes a new client of
	// one broker each time it is called (a host's broker for memory, a
	// connection for NATS). The suite closes every client it makes when
	// the subtest ends; New registers with t.Cleanup whatever else must be
	// released (a server, a network).
	New func(t *testing.T) (newClient func() broker.Broker)
	// Synctest runs each subtest inside synctest.Test (virtual time); New
	// and the clients are then made inside the bubble.
	Synctest bool
	// Wait bounds how long the suite waits for an expected delivery or for
	// a call to return. 0 means 10s.
	Wait time.Duration
}

// Run runs every subtest of the suite. It blocks until they are done.
func (s Suite) Run(t *testing.T) {
	tests := []struct {
		name string
		f    func(*world)
	}{
		{"FanOut", testFanOut},
		{"QueueGroup", testQueueGroup},
		{"Ordering", testOrdering},
		{"SlowSubscriber", testSlowSubscriber},
		{"MessageCopy", testMessageCopy},
		{"CloseWaitsForHandler", testCloseWaitsForHandler},
		{"ClosedBroker", testClosedBroker},
		{"InvalidTopic", testInvalidTopic},
		{"Unsubscribe", testUnsubscribe},
		{"HandlerPanic", testHandlerPanic},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if s.Synctest {
				synctest.Test(t, func(t *testing.T) { tc.f(s.newWorld(t)) })
				return
			}
			tc.f(s.newWorld(t))
		})
	}
}

// short is how long "nothing more arrives" is waited for in real time.
const short = 50 * time.Millisecond

// world is one subtest's broker and helpers.
type world struct {
	t         *testing.T
	s         Suite
	newClient func() broker.Broker
	wait      time.Duration
	ctx       context.Context // ends when the subtest does, or after a bound
	prefix    string          // every topic of the subtest starts with it
	wg        sync.WaitGroup  // goroutines started by goErr
}

func (s Suite) newWorld(t *testing.T) *world {
	require.NotNil(t, s.New, "Suite.New")
	nc := s.New(t)
	require.NotNil(t, nc, "Suite.New returned nil")
	wait := s.Wait
	if wait <= 0 {
		wait = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*wait)
	w := &world{t: t, s: s, newClient: nc, wait: wait, ctx: ctx, prefix: testname.Prefix(t)}
	// Runs after the subtest's own cleanups (subscriptions and clients
	// closed) and before New's.
	t.Cleanup(func() {
		cancel()
		w.wg.Wait()
	})
	return w
}

// topic is the subtest's topic with the given suffix.
func (w *world) topic(suffix string) string { return w.prefix + suffix }

// client makes a client that is closed when the subtest ends.
func (w *world) client() broker.Broker {
	w.t.Helper()
	b := w.newClient()
	require.NotNil(w.t, b, "new client")
	w.t.Cleanup(func() { _ = b.Close() })
	return b
}

// subscribe subscribes; the subscription is closed when the subtest ends.
func (w *world) subscribe(b broker.Broker, topic string, h broker.Handler, opts ...broker.SubscribeOption) broker.Subscription {
	w.t.Helper()
	sub, err := b.Subscribe(w.ctx, topic, h, opts...)
	require.NoError(w.t, err, "Subscribe %s", topic)
	require.NotNil(w.t, sub)
	require.Equal(w.t, topic, sub.Topic())
	var o broker.SubscribeOptions
	for _, opt := range opts {
		opt(&o)
	}
	require.Equal(w.t, o.Queue, sub.Queue())
	w.t.Cleanup(func() { _ = sub.Close() })
	return sub
}

// message is message number n: its number is in the body and a header.
func message(n int) *broker.Message {
	return &broker.Message{
		Header: map[string]string{"N": strconv.Itoa(n), "Kind": "test"},
		Body:   []byte("message " + strconv.Itoa(n)),
	}
}

// number decodes a message made by message.
func number(m *broker.Message) (int, error) {
	if m == nil {
		return 0, fmt.Errorf("nil message")
	}
	n, err := strconv.Atoi(m.Header["N"])
	if err != nil {
		return 0, fmt.Errorf("header N: %w", err)
	}
	if string(m.Body) != "message "+strconv.Itoa(n) || m.Header["Kind"] != "test" {
		return 0, fmt.Errorf("message %d arrived as header %v body %q", n, m.Header, m.Body)
	}
	return n, nil
}

// publish publishes messages from..to-1 from b, in order.
func (w *world) publish(b broker.Broker, topic string, from, to int) {
	w.t.Helper()
	for n := from; n < to; n++ {
		require.NoError(w.t, b.Publish(w.ctx, topic, message(n)), "Publish %d", n)
	}
}

// goErr runs f in a goroutine the world waits for and returns its result.
func (w *world) goErr(f func() error) <-chan error {
	ch := make(chan error, 1)
	w.wg.Go(func() { ch <- f() })
	return ch
}

// receive returns the next value from ch, failing after w.wait.
func receive[T any](w *world, ch <-chan T, what string) T {
	w.t.Helper()
	timer := time.NewTimer(w.wait)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		w.t.Fatalf("%s did not happen within %v", what, w.wait)
		var zero T
		return zero
	}
}

// settle waits until whatever is in flight has happened: in a bubble until
// every goroutine is blocked, in real time for a short while. It is used
// only before checking that something did not happen.
func (w *world) settle() {
	if w.s.Synctest {
		synctest.Wait()
		return
	}
	timer := time.NewTimer(short)
	defer timer.Stop()
	<-timer.C
}

// closeOnce returns a function closing ch that may be called many times.
func closeOnce(ch chan struct{}) func() {
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}
