package e2e_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	natsbroker "github.com/microsim/microsim/framework/broker/nats"
	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/transport/tcp"
	"github.com/microsim/microsim/memory"
)

// OrderCreated is the event of the NATS test.
type OrderCreated struct{ ID int }

// deliveries records which subscriber received which event.
type deliveries struct {
	mu     sync.Mutex
	got    map[string][]int // by subscriber: event IDs in order of arrival
	change chan struct{}    // a token after each delivery; dropped when one is pending
}

func (d *deliveries) handler(member string) func(context.Context, *OrderCreated) error {
	return func(_ context.Context, ev *OrderCreated) error {
		d.mu.Lock()
		d.got[member] = append(d.got[member], ev.ID)
		d.mu.Unlock()
		select {
		case d.change <- struct{}{}:
		default:
		}
		return nil
	}
}

func (d *deliveries) snapshot() map[string][]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := make(map[string][]int, len(d.got))
	for k, v := range d.got {
		m[k] = slices.Clone(v)
	}
	return m
}

// TestNATSQueueGroupAndBroadcast: three instances of "orders", each with a
// NATS connection of its own, subscribe with the default queue group (the
// service name); two instances of "audit" subscribe with plain
// subscriptions (SubscribeBroadcast). A client publishes n events through
// NATS. Each event reaches exactly one member of the queue group and every
// plain subscriber.
//
// The servers listen on the TCP transport but register in an in-process
// registry: the registry plays no part in publish/subscribe, and this keeps
// the test independent of Consul, so it runs wherever the module builds.
func TestNATSQueueGroupAndBroadcast(t *testing.T) {
	t.Parallel()
	start := time.Now()
	url := startNATS(t)
	world, err := memory.NewNetwork()
	require.NoError(t, err)
	t.Cleanup(func() { _ = world.Close() })
	reg := world.Registry()

	const topic, n = "orders.created", 300
	d := &deliveries{got: make(map[string][]int), change: make(chan struct{}, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	var servers []server.Server
	subscriber := func(service, member string, opts ...server.SubscribeOption) {
		srv := startSubscriber(t, ctx, url, reg, service, member)
		require.NoError(t, srv.Subscribe(topic, d.handler(member), opts...))
		require.NoError(t, srv.Start(ctx))
		servers = append(servers, srv)
	}
	queue := []string{"orders-0", "orders-1", "orders-2"}
	plain := []string{"audit-0", "audit-1"}
	for _, m := range queue {
		subscriber("orders", m) // default: queue group "orders"
	}
	for _, m := range plain {
		subscriber("audit", m, server.SubscribeBroadcast())
	}

	pub := newNATS(t, ctx, url)
	sel, err := selector.New(reg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sel.Close() })
	tr, err := tcp.New()
	require.NoError(t, err)
	t.Cleanup(func() { _ = tr.Close() })
	cl, err := client.New(sel, tr, client.WithBroker(pub))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cl.Close() })

	published := time.Now()
	for id := 1; id <= n; id++ {
		require.NoError(t, cl.Publish(ctx, topic, &OrderCreated{ID: id}))
	}
	require.NoError(t, pub.Flush(ctx))

	// Wait until every event has arrived where it should, then stop the
	// servers (their subscriptions drain), so that a late duplicate would
	// be counted too.
	deadline := time.After(waitLimit)
	for {
		got := d.snapshot()
		queued := 0
		for _, m := range queue {
			queued += len(got[m])
		}
		if queued >= n && len(got[plain[0]]) >= n && len(got[plain[1]]) >= n {
			break
		}
		select {
		case <-d.change:
		case <-deadline:
			t.Fatalf("after %v: queue group got %d of %d events, plain subscribers %d and %d",
				waitLimit, queued, n, len(got[plain[0]]), len(got[plain[1]]))
		}
	}
	delivered := time.Since(published)
	for _, srv := range servers {
		require.NoError(t, srv.Stop(ctx))
	}
	got := d.snapshot()

	// Queue group: each event went to exactly one member.
	receivers := make(map[int][]string, n)
	var perMember []int
	for _, m := range queue {
		perMember = append(perMember, len(got[m]))
		for _, id := range got[m] {
			receivers[id] = append(receivers[id], m)
		}
	}
	assert.Equal(t, n, sumInts(perMember), "events the queue group received in all")
	for id := 1; id <= n; id++ {
		assert.Len(t, receivers[id], 1, "event %d reached queue members %v", id, receivers[id])
	}
	for i, m := range queue {
		assert.Positive(t, perMember[i], "queue member %s received none of %d events", m, n)
	}
	// Plain subscriptions: every member got every event, once.
	want := make([]int, n)
	for i := range want {
		want[i] = i + 1
	}
	for _, m := range plain {
		ids := slices.Clone(got[m])
		slices.Sort(ids)
		assert.Equal(t, want, ids, "events plain subscriber %s received", m)
	}
	t.Logf("%d events: queue group members received %v (sum %d, no duplicates); plain subscribers %d and %d",
		n, perMember, sumInts(perMember), len(got[plain[0]]), len(got[plain[1]]))
	t.Logf("delivered everywhere %v after the first publish; test took %v",
		delivered.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// startSubscriber returns a server of service, not started, with a NATS
// connection of its own, on the TCP transport; it is stopped at cleanup.
func startSubscriber(t *testing.T, ctx context.Context, url string, reg registry.Registry, service, member string) server.Server {
	t.Helper()
	b := newNATS(t, ctx, url)
	tr, err := tcp.New()
	require.NoError(t, err)
	t.Cleanup(func() { _ = tr.Close() })
	srv, err := server.New(service, tr, reg,
		server.WithAddress("127.0.0.1:0"),
		server.WithID(member),
		server.WithBroker(b))
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		require.NoError(t, srv.Stop(ctx))
	})
	return srv
}

func newNATS(t *testing.T, ctx context.Context, url string) *natsbroker.Broker {
	t.Helper()
	b, err := natsbroker.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// startNATS starts an embedded NATS server on a random loopback port and
// returns its client URL; it is shut down at cleanup.
func startNATS(t *testing.T) string {
	t.Helper()
	srv, err := natsserver.NewServer(&natsserver.Options{
		Host:   "127.0.0.1",
		Port:   natsserver.RANDOM_PORT,
		NoLog:  true,
		NoSigs: true,
	})
	require.NoError(t, err)
	go srv.Start()
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	require.True(t, srv.ReadyForConnections(waitLimit), "nats server not ready within %v", waitLimit)
	return srv.ClientURL()
}

func sumInts(s []int) int {
	n := 0
	for _, v := range s {
		n += v
	}
	return n
}
