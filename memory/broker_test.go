package memory_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/broker/brokertest"
	"github.com/microsim/microsim/memory"
)

func newBrokerSuite(synctest bool) brokertest.Suite {
	return brokertest.Suite{
		New: func(t *testing.T) func() broker.Broker {
			n := memory.MustNetwork()
			t.Cleanup(func() { require.NoError(t, n.Close()) })
			var hosts atomic.Int32
			return func() broker.Broker {
				return n.Host(fmt.Sprint("h", hosts.Add(1))).Broker()
			}
		},
		Synctest: synctest,
		Wait:     5 * time.Second,
	}
}

func TestBrokerConformance(t *testing.T) { newBrokerSuite(true).Run(t) }

// The suite in real time, to check that it works there too.
func TestBrokerConformanceRealTime(t *testing.T) { newBrokerSuite(false).Run(t) }

// inbox collects the numbers of the messages a handler receives.
type inbox struct {
	mu  sync.Mutex
	got []int
}

func (b *inbox) handle(_ context.Context, _ string, m *broker.Message) error {
	n, err := strconv.Atoi(string(m.Body))
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.got = append(b.got, n)
	b.mu.Unlock()
	return nil
}

func (b *inbox) take() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	got := b.got
	b.got = nil
	return got
}

func publishRange(t *testing.T, b broker.Broker, topic string, from, to int) {
	t.Helper()
	for n := from; n < to; n++ {
		require.NoError(t, b.Publish(t.Context(), topic, &broker.Message{Body: []byte(strconv.Itoa(n))}))
	}
}

// Queue groups hand out messages round robin in joining order, and a
// member that leaves passes its turn on deterministically.
func TestBrokerRoundRobin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memory.MustNetwork()
		defer n.Close()
		b := n.Broker()
		var boxes [3]inbox
		var subs [3]broker.Subscription
		for i := range boxes {
			sub, err := b.Subscribe(t.Context(), "jobs", boxes[i].handle, broker.Queue("w"))
			require.NoError(t, err)
			subs[i] = sub
		}
		publishRange(t, b, "jobs", 0, 7)
		synctest.Wait()
		require.Equal(t, []int{0, 3, 6}, boxes[0].take())
		require.Equal(t, []int{1, 4}, boxes[1].take())
		require.Equal(t, []int{2, 5}, boxes[2].take())

		// Member 1 is next; it leaves, so member 2 takes its turn.
		require.NoError(t, subs[1].Close())
		publishRange(t, b, "jobs", 7, 11)
		synctest.Wait()
		require.Equal(t, []int{8, 10}, boxes[0].take())
		require.Empty(t, boxes[1].take())
		require.Equal(t, []int{7, 9}, boxes[2].take())
	})
}

// A crashed host's subscriptions stop (their handlers' ctx is cancelled
// and waited for), its queue-group share moves to the other members, and
// its broker calls fail until it restarts.
func TestBrokerCrashedHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memory.MustNetwork()
		defer n.Close()
		ctx := t.Context()
		a, b, c := n.Host("a").Broker(), n.Host("b").Broker(), n.Host("c").Broker()
		var boxes [3]inbox
		for i, cl := range []broker.Broker{a, b, c} {
			_, err := cl.Subscribe(ctx, "jobs", boxes[i].handle, broker.Queue("w"))
			require.NoError(t, err)
		}
		var plain inbox
		_, err := a.Subscribe(ctx, "jobs", plain.handle)
		require.NoError(t, err)
		running, ended := make(chan struct{}), make(chan struct{})
		_, err = a.Subscribe(ctx, "block", func(ctx context.Context, _ string, _ *broker.Message) error {
			close(running)
			<-ctx.Done()
			close(ended)
			return ctx.Err()
		})
		require.NoError(t, err)

		publishRange(t, c, "jobs", 0, 3)
		require.NoError(t, c.Publish(ctx, "block", &broker.Message{}))
		<-running
		synctest.Wait()
		require.Equal(t, []int{0}, boxes[0].take())
		require.Equal(t, []int{0, 1, 2}, plain.take())

		n.Host("a").Crash()
		select {
		case <-ended:
		default:
			t.Fatal("Crash returned before the running handler ended")
		}
		err = a.Publish(ctx, "jobs", &broker.Message{})
		require.ErrorIs(t, err, broker.ErrUnavailable)
		require.ErrorContains(t, err, `"a"`)
		_, err = a.Subscribe(ctx, "jobs", plain.handle)
		require.ErrorIs(t, err, broker.ErrUnavailable)

		publishRange(t, c, "jobs", 3, 9)
		synctest.Wait()
		require.Empty(t, boxes[0].take())
		require.Empty(t, plain.take())
		require.Equal(t, []int{1, 3, 5, 7}, boxes[1].take())
		require.Equal(t, []int{2, 4, 6, 8}, boxes[2].take())

		// Back up: the old client works again, with no subscriptions.
		n.Host("a").Restart()
		publishRange(t, a, "jobs", 9, 11)
		_, err = a.Subscribe(ctx, "jobs", plain.handle)
		require.NoError(t, err)
		publishRange(t, a, "jobs", 11, 12)
		synctest.Wait()
		require.Equal(t, []int{11}, plain.take())
	})
}

// Close drops the queued messages and cancels the running handler's ctx;
// the handler ctx keeps the values of Subscribe's ctx.
func TestBrokerCloseDropsQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memory.MustNetwork()
		defer n.Close()
		b := n.Broker()
		type key struct{}
		ctx := context.WithValue(t.Context(), key{}, "v")
		var calls atomic.Int32
		sub, err := b.Subscribe(ctx, "t", func(ctx context.Context, _ string, _ *broker.Message) error {
			calls.Add(1)
			if ctx.Value(key{}) != "v" {
				t.Error("handler ctx lost the value of Subscribe's ctx")
			}
			<-ctx.Done()
			return ctx.Err()
		})
		require.NoError(t, err)
		publishRange(t, b, "t", 0, 10)
		synctest.Wait()
		start := time.Now()
		require.NoError(t, sub.Close())
		require.Equal(t, start, time.Now(), "Close waited only for the cancelled handler")
		require.Equal(t, int32(1), calls.Load())
	})
}

// Calls with a done ctx, nil messages and nil handlers fail.
func TestBrokerBadCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memory.MustNetwork()
		defer n.Close()
		b := n.Broker()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		require.Equal(t, context.Canceled, b.Publish(ctx, "t", &broker.Message{}))
		_, err := b.Subscribe(ctx, "t", (&inbox{}).handle)
		require.Equal(t, context.Canceled, err)
		require.Error(t, b.Publish(t.Context(), "t", nil))
		_, err = b.Subscribe(t.Context(), "t", nil)
		require.Error(t, err)
	})
}

// Network.Close closes every subscription; two networks share nothing.
func TestBrokerNetworkCloseAndIsolation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n1, n2 := memory.MustNetwork(), memory.MustNetwork()
		var box1, box2 inbox
		_, err := n1.Broker().Subscribe(t.Context(), "t", box1.handle)
		require.NoError(t, err)
		_, err = n2.Broker().Subscribe(t.Context(), "t", box2.handle)
		require.NoError(t, err)
		publishRange(t, n1.Broker(), "t", 0, 2)
		synctest.Wait()
		require.Equal(t, []int{0, 1}, box1.take())
		require.Empty(t, box2.take())

		require.NoError(t, n1.Close())
		require.NoError(t, n2.Close())
		// No goroutine is left: synctest.Test would fail otherwise.
	})
}
