package faults_test

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/faults"
	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/memory"
)

type delivery struct {
	n     int
	at    time.Time
	after time.Duration // since publication
}

// publishAll publishes n numbered messages on "orders" from host "pub"
// (its broker decorated) to a subscriber on host "sub", all at the same
// instant, with spec in effect. It returns the deliveries in order.
func publishAll(t *testing.T, spec faults.BrokerFault, n int) ([]delivery, faults.Stats) {
	var out []delivery
	var st faults.Stats
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		net := memory.MustNetwork()
		defer net.Close()
		inj := faults.New(9)
		defer inj.Close()
		require.NoError(t, inj.AddNode("pub", faults.NodeInfo{}))
		pub := inj.WrapBroker("pub", net.Host("pub").Broker())
		defer pub.Close()
		sub := net.Host("sub").Broker()
		defer sub.Close()

		var mu sync.Mutex
		_, err := sub.Subscribe(ctx, "orders", func(_ context.Context, _ string, m *broker.Message) error {
			mu.Lock()
			out = append(out, delivery{n: int(binary.BigEndian.Uint64(m.Body)), at: time.Now()})
			mu.Unlock()
			return nil
		})
		require.NoError(t, err)
		f, err := inj.Inject(ctx, "broker", spec)
		require.NoError(t, err)
		start := time.Now()
		for i := range n {
			b := make([]byte, 8)
			binary.BigEndian.PutUint64(b, uint64(i))
			require.NoError(t, pub.Publish(ctx, "orders", &broker.Message{Body: b}))
		}
		require.Equal(t, start, time.Now(), "Publish never waits for a delay")
		time.Sleep(time.Minute)
		synctest.Wait()
		st = f.Stats()
		for i := range out {
			out[i].after = out[i].at.Sub(start)
		}
	})
	return out, st
}

func TestBrokerDrop(t *testing.T) {
	const n = 10000
	got, st := publishAll(t, faults.BrokerFault{Topic: "orders", Drop: 0.3}, n)
	dropped := n - len(got)
	t.Logf("30%% drop: %d of %d dropped", dropped, n)
	assert.InDelta(t, 0.3, float64(dropped)/n, 0.02)
	assert.Equal(t, uint64(dropped), st.Counts["dropped"])
	assert.Equal(t, uint64(n), st.Matched)
}

func TestBrokerDuplicate(t *testing.T) {
	const n = 10000
	got, st := publishAll(t, faults.BrokerFault{Duplicate: 0.1}, n)
	dups := len(got) - n
	t.Logf("10%% duplicate: %d deliveries of %d messages", len(got), n)
	assert.InDelta(t, 0.1, float64(dups)/n, 0.02)
	assert.Equal(t, uint64(dups), st.Counts["duplicated"])
	for i := 1; i < len(got); i++ {
		require.LessOrEqual(t, got[i].n-got[i-1].n, 1, "a copy follows its original at once")
	}
}

func TestBrokerReorder(t *testing.T) {
	const n = 10000
	got, st := publishAll(t, faults.BrokerFault{Reorder: 0.1, ReorderWindow: 10 * time.Millisecond}, n)
	require.Len(t, got, n, "reordering loses nothing")
	late, highest := 0, -1
	for _, d := range got {
		if d.n < highest {
			late++
		}
		highest = max(highest, d.n)
	}
	t.Logf("10%% reorder: %d of %d messages arrived after a later one", late, n)
	assert.InDelta(t, 0.1, float64(late)/n, 0.02)
	assert.Equal(t, uint64(late), st.Counts["reordered"])
	for _, d := range got {
		assert.LessOrEqual(t, d.after, 10*time.Millisecond, "held back at most the window")
	}
}

func TestBrokerDelay(t *testing.T) {
	got, st := publishAll(t, faults.BrokerFault{Delay: faults.Constant(100 * time.Millisecond)}, 100)
	require.Len(t, got, 100)
	for i, d := range got {
		assert.Equal(t, i, d.n, "a constant delay keeps the order")
		assert.Equal(t, 100*time.Millisecond, d.after, "message %d", i)
	}
	assert.Equal(t, uint64(100), st.Counts["delayed"])

	got, _ = publishAll(t, faults.BrokerFault{Topic: "other", Drop: 1}, 100)
	assert.Len(t, got, 100, "another topic is untouched")
}

func TestBrokerUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		net := memory.MustNetwork()
		defer net.Close()
		inj := faults.New(9)
		defer inj.Close()
		require.NoError(t, inj.AddNode("pub", faults.NodeInfo{}))
		require.NoError(t, inj.AddNode("other", faults.NodeInfo{}))
		pub := inj.WrapBroker("pub", net.Host("pub").Broker())
		defer pub.Close()
		other := inj.WrapBroker("other", net.Host("other").Broker())
		defer other.Close()
		var got int
		var mu sync.Mutex
		sub := net.Host("sub").Broker()
		defer sub.Close()
		_, err := sub.Subscribe(ctx, "orders", func(context.Context, string, *broker.Message) error {
			mu.Lock()
			got++
			mu.Unlock()
			return nil
		})
		require.NoError(t, err)
		f, err := inj.Inject(ctx, "outage", faults.BrokerFault{Nodes: faults.Node("pub"), Unavailable: true})
		require.NoError(t, err)
		for range 10 {
			err := pub.Publish(ctx, "orders", &broker.Message{Body: []byte("x")})
			require.ErrorIs(t, err, broker.ErrUnavailable)
			require.ErrorContains(t, err, "injected broker outage")
			require.NoError(t, other.Publish(ctx, "orders", &broker.Message{Body: []byte("y")}), "other nodes publish as usual")
		}
		require.NoError(t, f.Stop(ctx))
		require.NoError(t, pub.Publish(ctx, "orders", &broker.Message{Body: []byte("x")}), "the outage ended")
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, 11, got, "10 from other, 1 after the outage")
		assert.Equal(t, uint64(10), f.Stats().Counts["refused"])
	})
}
