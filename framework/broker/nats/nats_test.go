package nats_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/broker/nats"
)

const wait = 10 * time.Second

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newBroker dials srv with a fast reconnect; it is closed at cleanup.
func newBroker(t *testing.T, srv *natsServer, opts ...nats.Option) *nats.Broker {
	t.Helper()
	opts = append([]nats.Option{nats.WithNATSOptions(natsgo.ReconnectWait(20 * time.Millisecond))}, opts...)
	b, err := nats.New(ctxT(t, wait), srv.url(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b
}

// collector is a handler that forwards messages to a channel.
type collector struct{ ch chan *broker.Message }

func newCollector() *collector { return &collector{ch: make(chan *broker.Message, 1024)} }

func (c *collector) handle(_ context.Context, _ string, m *broker.Message) error {
	c.ch <- m
	return nil
}

func (c *collector) next(t *testing.T) *broker.Message {
	t.Helper()
	select {
	case m := <-c.ch:
		return m
	case <-time.After(wait):
		t.Fatal("no message")
		return nil
	}
}

func TestPublishSubscribeHeaders(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	pub, sub := newBroker(t, srv), newBroker(t, srv)
	ctx := ctxT(t, wait)
	c := newCollector()
	s, err := sub.Subscribe(ctx, "orders.created", c.handle)
	require.NoError(t, err)
	require.Equal(t, "orders.created", s.Topic())
	require.Empty(t, s.Queue())

	m := &broker.Message{Header: map[string]string{"Content-Type": "application/json", "x-lower": "v", "empty": ""},
		Body: []byte(`{"id":1}`)}
	require.NoError(t, pub.Publish(ctx, "orders.created", m))
	require.Equal(t, m, c.next(t))
	require.NoError(t, pub.Publish(ctx, "orders.created", &broker.Message{}))
	require.Equal(t, &broker.Message{}, c.next(t))

	for _, h := range []map[string]string{{"a b": "v"}, {"k:": "v"}, {"k": "line\nbreak"}, {"k": " padded"}} {
		require.Error(t, pub.Publish(ctx, "orders.created", &broker.Message{Header: h}), "%v", h)
	}
	for _, topic := range []string{"", "a..b", ".a", "a.", "a b", "a.*", "a.>"} {
		require.ErrorIs(t, pub.Publish(ctx, topic, m), broker.ErrInvalidTopic, topic)
	}
	for _, topic := range []string{"", "a..b", "a.>.b", "a\tb"} {
		_, err := sub.Subscribe(ctx, topic, c.handle)
		require.ErrorIs(t, err, broker.ErrInvalidTopic, topic)
	}

	// Wildcards: the handler gets the concrete subject.
	topics := make(chan string, 1)
	_, err = sub.Subscribe(ctx, "orders.>", func(_ context.Context, topic string, _ *broker.Message) error {
		topics <- topic
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, pub.Publish(ctx, "orders.eu.shipped", m))
	select {
	case topic := <-topics:
		require.Equal(t, "orders.eu.shipped", topic)
	case <-time.After(wait):
		t.Fatal("no wildcard delivery")
	}

	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
}

// TestQueueGroupAcrossClients: two brokers on two connections share a queue
// group; every message is handled by exactly one of them.
func TestQueueGroupAcrossClients(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	pub := newBroker(t, srv)
	ctx := ctxT(t, wait)
	const n = 200
	var mu sync.Mutex
	seen := map[string]int{}
	perMember := make([]int, 2)
	all := make(chan struct{})
	members := make([]*nats.Broker, 2)
	for i := range members {
		members[i] = newBroker(t, srv)
		s, err := members[i].Subscribe(ctx, "jobs", func(_ context.Context, _ string, m *broker.Message) error {
			mu.Lock()
			defer mu.Unlock()
			seen[string(m.Body)]++
			perMember[i]++
			if len(seen) == n {
				close(all)
			}
			return nil
		}, broker.Queue("workers"))
		require.NoError(t, err)
		require.Equal(t, "workers", s.Queue())
	}
	for i := range n {
		require.NoError(t, pub.Publish(ctx, "jobs", &broker.Message{Body: fmt.Appendf(nil, "job-%d", i)}))
	}
	require.NoError(t, pub.Flush(ctx))
	select {
	case <-all:
	case <-ctx.Done():
		t.Fatal("not every job was handled")
	}
	// Closing drains: whatever a member still had is handled before Close returns.
	for _, b := range members {
		require.NoError(t, b.Close())
	}
	mu.Lock()
	defer mu.Unlock()
	for body, count := range seen {
		require.Equal(t, 1, count, body)
	}
	require.Len(t, seen, n)
	require.Equal(t, n, perMember[0]+perMember[1])
	require.NotZero(t, perMember[0], "NATS spreads a queue group's messages")
	require.NotZero(t, perMember[1], "NATS spreads a queue group's messages")
}

// TestReconnect: the server restarts; both clients reconnect by themselves
// and the subscriber receives again.
func TestReconnect(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	var disconnects, reconnects atomic.Int32
	opts := nats.WithNATSOptions(
		natsgo.DisconnectErrHandler(func(*natsgo.Conn, error) { disconnects.Add(1) }),
		natsgo.ReconnectHandler(func(*natsgo.Conn) { reconnects.Add(1) }),
	)
	pub, sub := newBroker(t, srv, opts), newBroker(t, srv, opts)
	ctx := ctxT(t, 2*wait)
	c := newCollector()
	_, err := sub.Subscribe(ctx, "events", c.handle)
	require.NoError(t, err)
	require.NoError(t, pub.Publish(ctx, "events", &broker.Message{Body: []byte("before")}))
	require.Equal(t, "before", string(c.next(t).Body))

	srv.restart()

	// Publish until the subscriber, resubscribed after its reconnect, gets
	// one: messages published before it is back are lost (at most once).
	require.Eventually(t, func() bool {
		if err := pub.Publish(ctx, "events", &broker.Message{Body: []byte("after")}); err != nil {
			return false
		}
		select {
		case m := <-c.ch:
			return string(m.Body) == "after"
		case <-time.After(20 * time.Millisecond):
			return false
		}
	}, wait, 10*time.Millisecond)
	require.GreaterOrEqual(t, disconnects.Load(), int32(2))
	require.Eventually(t, func() bool { return reconnects.Load() >= 2 }, wait, 10*time.Millisecond)
}

// TestCloseDrainsInFlight: messages the subscriber received before Close
// are all handled, with a live ctx, before Close returns.
func TestCloseDrainsInFlight(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	pub := newBroker(t, srv)
	sub, err := nats.New(ctxT(t, wait), srv.url())
	require.NoError(t, err)
	ctx := ctxT(t, wait)
	const n = 20
	var handled, cancelled atomic.Int32
	started := make(chan struct{}, n)
	_, err = sub.Subscribe(ctx, "slow", func(ctx context.Context, _ string, _ *broker.Message) error {
		started <- struct{}{}
		time.Sleep(5 * time.Millisecond) // a slow handler
		if ctx.Err() != nil {
			cancelled.Add(1)
		}
		handled.Add(1)
		return nil
	})
	require.NoError(t, err)
	for range n {
		require.NoError(t, pub.Publish(ctx, "slow", &broker.Message{Body: []byte("x")}))
	}
	require.NoError(t, pub.Flush(ctx)) // the server has them all
	<-started
	require.NoError(t, sub.Close())
	require.Equal(t, int32(n), handled.Load())
	require.Zero(t, cancelled.Load())
	require.NoError(t, sub.Close())
	require.ErrorIs(t, sub.Publish(ctx, "slow", &broker.Message{}), broker.ErrClosed)
	_, err = sub.Subscribe(ctx, "slow", newCollector().handle)
	require.ErrorIs(t, err, broker.ErrClosed)
}

// TestSubscriptionClose: Close drains, then cancels the handler's ctx; a
// handler that waits for its ctx delays Close by the drain timeout only.
func TestSubscriptionClose(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	b := newBroker(t, srv, nats.WithDrainTimeout(100*time.Millisecond))
	ctx := ctxT(t, wait)
	running := make(chan struct{})
	var returned atomic.Bool
	s, err := b.Subscribe(ctx, "block", func(ctx context.Context, _ string, _ *broker.Message) error {
		close(running)
		<-ctx.Done()
		returned.Store(true)
		return ctx.Err()
	})
	require.NoError(t, err)
	require.NoError(t, b.Publish(ctx, "block", &broker.Message{}))
	<-running
	start := time.Now()
	require.NoError(t, s.Close())
	require.True(t, returned.Load(), "Close waits for the running handler")
	require.Less(t, time.Since(start), 2*time.Second)

	// After Close nothing is delivered.
	c := newCollector()
	s2, err := b.Subscribe(ctx, "after", c.handle)
	require.NoError(t, err)
	require.NoError(t, s2.Close())
	require.NoError(t, b.Publish(ctx, "after", &broker.Message{}))
	require.NoError(t, b.Flush(ctx))
	select {
	case <-c.ch:
		t.Fatal("delivered after Close")
	case <-time.After(50 * time.Millisecond):
	}
}

// TestCloseBlockedHandlers: handlers that wait for their ctx delay
// Broker.Close by the drain timeout, then see their ctx cancelled.
func TestCloseBlockedHandlers(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	pub := newBroker(t, srv)
	b, err := nats.New(ctxT(t, wait), srv.url(), nats.WithDrainTimeout(100*time.Millisecond))
	require.NoError(t, err)
	ctx := ctxT(t, wait)
	running := make(chan string, 3)
	var returned atomic.Int32
	for _, topic := range []string{"a", "b", "c"} {
		_, err := b.Subscribe(ctx, topic, func(ctx context.Context, topic string, _ *broker.Message) error {
			running <- topic
			<-ctx.Done()
			returned.Add(1)
			return nil
		})
		require.NoError(t, err)
		require.NoError(t, pub.Publish(ctx, topic, &broker.Message{}))
	}
	for range 3 {
		select {
		case <-running:
		case <-ctx.Done():
			t.Fatal("handlers did not start")
		}
	}
	start := time.Now()
	require.NoError(t, b.Close())
	require.Equal(t, int32(3), returned.Load())
	require.Less(t, time.Since(start), 3*time.Second)
}

// TestHandlerSerialAndPanics: one subscription never runs its handler
// concurrently; a panic is recovered and reported, and delivery goes on.
func TestHandlerSerialAndPanics(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	reported := make(chan error, 100)
	b := newBroker(t, srv, nats.WithErrorHandler(func(_ string, _ *broker.Message, err error) { reported <- err }))
	ctx := ctxT(t, wait)
	const n = 50
	var active, maxActive, count atomic.Int32
	done := make(chan struct{})
	_, err := b.Subscribe(ctx, "serial", func(context.Context, string, *broker.Message) error {
		a := active.Add(1)
		defer active.Add(-1)
		if a > maxActive.Load() {
			maxActive.Store(a)
		}
		c := count.Add(1)
		if c == n {
			close(done)
		}
		switch c {
		case 1:
			panic("boom")
		case 2:
			return errors.New("handler failed")
		}
		return nil
	})
	require.NoError(t, err)
	for range n {
		require.NoError(t, b.Publish(ctx, "serial", &broker.Message{}))
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("not all delivered")
	}
	require.Equal(t, int32(1), maxActive.Load())
	require.ErrorContains(t, <-reported, "boom")
	require.ErrorContains(t, <-reported, "handler failed")
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	start := time.Now()
	_, err = nats.New(ctxT(t, time.Second), "nats://"+addr)
	require.ErrorIs(t, err, broker.ErrUnavailable)
	require.Less(t, time.Since(start), 2*time.Second)

	// A server that accepts and never speaks: the ctx deadline bounds New.
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer hung.Close()
	start = time.Now()
	_, err = nats.New(ctxT(t, 300*time.Millisecond), "nats://"+hung.Addr().String())
	require.ErrorIs(t, err, broker.ErrUnavailable)
	require.Less(t, time.Since(start), 2*time.Second)
}

// TestNewConn: a broker on a caller's connection leaves it open on Close.
func TestNewConn(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	nc, err := natsgo.Connect(srv.url())
	require.NoError(t, err)
	defer nc.Close()
	b, err := nats.NewConn(nc)
	require.NoError(t, err)
	ctx := ctxT(t, wait)
	c := newCollector()
	_, err = b.Subscribe(ctx, "t", c.handle)
	require.NoError(t, err)
	require.NoError(t, b.Publish(ctx, "t", &broker.Message{Body: []byte("1")}))
	require.Equal(t, "1", string(c.next(t).Body))
	require.NoError(t, b.Close())
	require.True(t, nc.IsConnected())
	require.Zero(t, nc.NumSubscriptions())
	_, err = nats.NewConn(nc, nats.WithNATSOptions(natsgo.Name("x")))
	require.Error(t, err)
}

// TestPublishWhileDisconnected: Publish while the server is down waits
// (bounded by its ctx) until the reconnect and the server's answer, and the
// message is then sent (here to a subscription on the same connection,
// which nats.go renews before it flushes the buffer); with a ctx that ends
// first it fails with ErrUnavailable or the ctx's error; with the reconnect
// buffer disabled it fails at once with ErrUnavailable.
func TestPublishWhileDisconnected(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	buffered := newBroker(t, srv)
	unbuffered := newBroker(t, srv, nats.WithNATSOptions(natsgo.ReconnectBufSize(-1)))
	ctx := ctxT(t, 2*wait)
	c := newCollector()
	_, err := buffered.Subscribe(ctx, "later", c.handle)
	require.NoError(t, err)

	srv.stop()
	require.Eventually(t, func() bool {
		return !buffered.Conn().IsConnected() && !unbuffered.Conn().IsConnected()
	}, wait, 5*time.Millisecond)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	err = buffered.Publish(short, "later", &broker.Message{Body: []byte("unconfirmed")})
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded, "the server never confirmed it")
	require.ErrorIs(t, unbuffered.Publish(ctx, "later", &broker.Message{}), broker.ErrUnavailable)
	published := make(chan error, 1)
	go func() { published <- buffered.Publish(ctx, "later", &broker.Message{Body: []byte("kept")}) }()
	select {
	case err := <-published:
		t.Fatalf("Publish returned %v while the server was down", err)
	case <-time.After(100 * time.Millisecond):
	}
	_, err = buffered.Subscribe(ctx, "later", c.handle) // no round trip while down
	require.NoError(t, err)

	srv.start()
	require.NoError(t, <-published, "Publish returns once the server has the message")
	var got []string
	for range 4 {
		got = append(got, string(c.next(t).Body))
	}
	// The unconfirmed message was in the reconnect buffer too: it may
	// reach the server after all (at most once, not exactly once).
	require.Equal(t, []string{"kept", "kept", "unconfirmed", "unconfirmed"}, sortedStrings(got))
}

func sortedStrings(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
