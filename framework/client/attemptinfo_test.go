package client_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/errors"
)

// infoRecorder is an attempt wrapper that records the AttemptInfo each
// attempt's ctx carries, with the address the wrapper was given.
type infoRecorder struct {
	mu    sync.Mutex
	infos []client.AttemptInfo
	addrs []string
	found []bool
}

func (r *infoRecorder) wrapper(next client.AttemptFunc) client.AttemptFunc {
	return func(ctx context.Context, addr string, req *client.Request, rsp any) error {
		a, ok := client.AttemptFromContext(ctx)
		r.mu.Lock()
		r.infos, r.addrs, r.found = append(r.infos, a), append(r.addrs, addr), append(r.found, ok)
		r.mu.Unlock()
		return next(ctx, addr, req, rsp)
	}
}

func TestAttemptInfoOfRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &infoRecorder{}
		c := newCluster(t, clusterConfig{instances: 3,
			clientOpts: []client.Option{client.WithAttemptWrapper(rec.wrapper)}})
		err := c.client.Call(context.Background(), "echo", "Echo.Say", &EchoRequest{Fail: "unavailable"}, &EchoReply{})
		require.Equal(t, errors.Unavailable, errors.CodeOf(err))
		require.Len(t, rec.infos, 3)
		nodes := map[string]bool{}
		for i, a := range rec.infos {
			assert.True(t, rec.found[i], "attempt %d carries its AttemptInfo", i+1)
			assert.Equal(t, i+1, a.Number)
			assert.False(t, a.Hedge)
			assert.Equal(t, i > 0, a.Retry(), "attempt %d", i+1)
			assert.Equal(t, map[bool]string{false: client.AttemptFirst, true: client.AttemptRetry}[i > 0], a.Kind())
			require.NotNil(t, a.Node)
			assert.Equal(t, rec.addrs[i], a.Node.Address, "the node is the one the attempt goes to")
			nodes[a.Node.ID] = true
		}
		assert.Len(t, nodes, 3, "each retry went to another node")
	})
}

func TestAttemptInfoOfHedges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &infoRecorder{}
		var first atomic.Bool
		c := newCluster(t, clusterConfig{instances: 3,
			hook: func(int) func(context.Context, int) error {
				return func(ctx context.Context, _ int) error {
					if first.CompareAndSwap(false, true) { // the call's first attempt stalls
						select {
						case <-time.After(time.Second):
						case <-ctx.Done():
						}
					}
					return nil
				}
			},
			clientOpts: []client.Option{
				client.WithAttemptWrapper(rec.wrapper),
				client.WithHedging(client.HedgePolicy{Delay: 50 * time.Millisecond, MaxHedges: 1}),
			}})
		require.NoError(t, c.client.Call(context.Background(), "echo", "Echo.Say", &EchoRequest{Text: "x"}, &EchoReply{}, client.WithIdempotent()))
		require.Len(t, rec.infos, 2)
		byNumber := map[int]client.AttemptInfo{}
		for _, a := range rec.infos {
			byNumber[a.Number] = a
		}
		assert.False(t, byNumber[1].Hedge, "the first attempt")
		assert.True(t, byNumber[2].Hedge, "the second attempt is a hedge")
		assert.False(t, byNumber[2].Retry(), "a hedge is not a retry")
		assert.Equal(t, client.AttemptHedge, byNumber[2].Kind())
		assert.NotEqual(t, byNumber[1].Node.ID, byNumber[2].Node.ID)
	})
}

func TestNoAttemptInfoWithoutAttemptWrappers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var found atomic.Int32
		c := newCluster(t, clusterConfig{instances: 1,
			clientOpts: []client.Option{client.WithCallWrapper(func(next client.CallFunc) client.CallFunc {
				return func(ctx context.Context, req *client.Request, rsp any) error {
					if _, ok := client.AttemptFromContext(ctx); ok {
						found.Add(1)
					}
					return next(ctx, req, rsp)
				}
			})}})
		require.NoError(t, c.client.Call(context.Background(), "echo", "Echo.Say", &EchoRequest{Text: "x"}, &EchoReply{}))
		assert.Zero(t, found.Load(), "a call wrapper sees no AttemptInfo")
	})
}

func TestPublishWrappers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, clusterConfig{instances: 0})
		b := c.net.Broker()
		got := make(chan map[string]string, 1)
		sub, err := b.Subscribe(context.Background(), "events", func(_ context.Context, _ string, m *broker.Message) error {
			got <- m.Header
			return nil
		})
		require.NoError(t, err)
		defer sub.Close()
		var order []string
		wrap := func(name string) client.PublishWrapper {
			return func(next client.PublishFunc) client.PublishFunc {
				return func(ctx context.Context, topic string, m *broker.Message) error {
					order = append(order, name+":"+topic)
					m.Header["Wrapped-By"] += name
					return next(ctx, topic, m)
				}
			}
		}
		cli, err := client.New(c.sel, c.net.Host("client").Transport(), client.WithBroker(b),
			client.WithPublishWrapper(wrap("a")), client.WithPublishWrapper(wrap("b")))
		require.NoError(t, err)
		defer cli.Close()
		require.NoError(t, cli.Publish(context.Background(), "events", map[string]int{"n": 1}))
		h := <-got
		assert.Equal(t, []string{"a:events", "b:events"}, order, "the first added is outermost")
		assert.Equal(t, "ab", h["Wrapped-By"])
		assert.Equal(t, "application/json", h["Micro-Content-Type"])

		failing, err := client.New(c.sel, c.net.Host("client").Transport(), client.WithBroker(b),
			client.WithPublishWrapper(func(client.PublishFunc) client.PublishFunc {
				return func(context.Context, string, *broker.Message) error { return broker.ErrUnavailable }
			}))
		require.NoError(t, err)
		defer failing.Close()
		err = failing.Publish(context.Background(), "events", 1)
		assert.Equal(t, errors.Unavailable, errors.CodeOf(err))
		assert.ErrorIs(t, err, broker.ErrUnavailable)
	})
}
