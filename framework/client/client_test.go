package client_test

import (
	"context"
	stderrors "errors"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/codec"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/transport"
)

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

func TestRetryClasses(t *testing.T) {
	cases := []struct {
		name       string
		req        EchoRequest
		opts       []client.CallOption
		wantCode   errors.Code
		wantServed int // handler invocations across all instances
	}{
		{"timeout, not idempotent: never re-run", EchoRequest{Sleep: 2 * time.Second},
			[]client.CallOption{client.WithCallAttemptTimeout(500 * time.Millisecond)}, errors.DeadlineExceeded, 1},
		{"timeout, idempotent: retried on other nodes", EchoRequest{Sleep: 2 * time.Second},
			[]client.CallOption{client.WithCallAttemptTimeout(500 * time.Millisecond), client.WithIdempotent()}, errors.DeadlineExceeded, 3},
		{"unavailable reply: retried", EchoRequest{Fail: "unavailable"}, nil, errors.Unavailable, 3},
		{"internal error: not retried", EchoRequest{Fail: "internal"}, nil, errors.Internal, 1},
		{"not found from the handler: not retried", EchoRequest{Fail: "not_found"}, nil, errors.NotFound, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newCluster(t, clusterConfig{instances: 3})
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				err := c.client.Call(ctx, "echo", "Echo.Say", &tc.req, &EchoReply{}, tc.opts...)
				require.Error(t, err)
				assert.Equal(t, tc.wantCode, errors.CodeOf(err), err.Error())
				assert.Equal(t, tc.wantServed, sum(c.calls()), "handler invocations")
				if tc.wantServed == 3 {
					assert.Equal(t, []int{1, 1, 1}, c.calls(), "each retry went to a node not yet tried")
				}
			})
		})
	}
}

func TestDeadlineAndMetadataPropagate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, clusterConfig{instances: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		ctx = metadata.AppendToContext(ctx, "tenant", "acme")
		require.NoError(t, c.client.Call(ctx, "echo", "Echo.Say", &EchoRequest{Text: "a"}, &EchoReply{}))
		e := c.echoes[0]
		require.Len(t, e.seen, 1)
		assert.Equal(t, 2*time.Second, e.seen[0].remaining, "the handler's deadline is the caller's (no virtual time passes in transit)")
		assert.Equal(t, "acme", e.seen[0].tenant)

		// Without a ctx deadline the client's default timeout applies.
		require.NoError(t, c.client.Call(context.Background(), "echo", "Echo.Say", &EchoRequest{Text: "b"}, &EchoReply{}))
		assert.Equal(t, client.DefaultTimeout, e.seen[1].remaining)
	})
}

func TestBadInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, clusterConfig{instances: 1, clientOpts: nil})
		ctx := context.Background()

		err := c.client.Call(ctx, "nosuch", "X.Y", &EchoRequest{}, &EchoReply{})
		assert.Equal(t, errors.NotFound, errors.CodeOf(err))
		assert.ErrorIs(t, err, selector.ErrNotFound)
		assert.ErrorContains(t, err, "nosuch")

		err = c.client.Call(ctx, "echo", "Echo.Nope", &EchoRequest{}, &EchoReply{})
		assert.Equal(t, errors.NotFound, errors.CodeOf(err))
		assert.ErrorContains(t, err, "Echo.Nope")

		err = c.client.Call(ctx, "echo", "Echo.Say", &EchoRequest{}, &EchoReply{}, client.WithCallContentType("text/xml"))
		assert.Equal(t, errors.BadRequest, errors.CodeOf(err))
		assert.ErrorIs(t, err, codec.ErrUnknownContentType)
		assert.ErrorContains(t, err, "text/xml")

		big := &EchoRequest{Text: strings.Repeat("x", transport.DefaultMaxMessageSize+1)}
		err = c.client.Call(ctx, "echo", "Echo.Say", big, &EchoReply{})
		assert.Equal(t, errors.ResourceExhausted, errors.CodeOf(err))
		assert.ErrorIs(t, err, transport.ErrMessageTooLarge)
		assert.Zero(t, sum(c.calls()), "no bad request reached a handler")

		err = c.client.Call(ctx, "", "Echo.Say", &EchoRequest{}, &EchoReply{})
		assert.Equal(t, errors.BadRequest, errors.CodeOf(err))

		// The client still serves good calls after all of that.
		require.NoError(t, c.client.Call(ctx, "echo", "Echo.Say", &EchoRequest{Text: "ok"}, &EchoReply{}))

		require.NoError(t, c.client.Close())
		require.NoError(t, c.client.Close(), "Close is idempotent")
		err = c.client.Call(ctx, "echo", "Echo.Say", &EchoRequest{}, &EchoReply{})
		assert.ErrorIs(t, err, client.ErrClosed)
		_, err = c.client.Stream(ctx, "echo", "Echo.Chat")
		assert.ErrorIs(t, err, client.ErrClosed)
	})
}

func TestNewRejectsBadOptions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, clusterConfig{instances: 0})
		tr := c.net.Transport()
		for name, opt := range map[string]client.Option{
			"nil codec table":  client.WithCodecs(nil),
			"unknown content":  client.WithContentType("text/xml"),
			"zero pool":        client.WithPoolSize(0),
			"negative attempt": client.WithAttemptTimeout(-time.Second),
			"zero timeout":     client.WithDefaultTimeout(0),
			"nil retry":        client.WithRetryPolicy(nil),
			"nil rand":         client.WithRand(nil),
		} {
			_, err := client.New(c.sel, tr, opt)
			assert.Error(t, err, name)
		}
		_, err := client.New(nil, tr)
		assert.ErrorContains(t, err, "selector")
		_, err = client.New(c.sel, nil)
		assert.ErrorContains(t, err, "transport")
	})
}

func TestWrappersRunInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var order []string
		mk := func(name string) client.CallWrapper {
			return func(next client.CallFunc) client.CallFunc {
				return func(ctx context.Context, req *client.Request, rsp any) error {
					order = append(order, name+">")
					err := next(ctx, req, rsp)
					order = append(order, "<"+name)
					return err
				}
			}
		}
		attempts := 0
		aw := func(next client.AttemptFunc) client.AttemptFunc {
			return func(ctx context.Context, addr string, req *client.Request, rsp any) error {
				attempts++
				order = append(order, "attempt "+req.Endpoint)
				return next(ctx, addr, req, rsp)
			}
		}
		c := newCluster(t, clusterConfig{instances: 2, clientOpts: []client.Option{
			client.WithCallWrapper(mk("outer"), mk("inner")), client.WithAttemptWrapper(aw),
		}})
		require.NoError(t, c.client.Call(context.Background(), "echo", "Echo.Say", &EchoRequest{}, &EchoReply{}))
		assert.Equal(t, []string{"outer>", "inner>", "attempt Echo.Say", "<inner", "<outer"}, order)
		assert.Equal(t, 1, attempts)
	})
}

func TestStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, clusterConfig{instances: 1})
		ctx := context.Background()
		s, err := c.client.Stream(ctx, "echo", "Echo.Chat")
		require.NoError(t, err)
		for i := range 100 {
			require.NoError(t, s.Send(&EchoRequest{Text: strings.Repeat("a", i)}))
			var rsp EchoReply
			require.NoError(t, s.Recv(&rsp))
			assert.Equal(t, "re: "+strings.Repeat("a", i), rsp.Text)
		}
		require.NoError(t, s.CloseSend())
		assert.ErrorIs(t, s.Recv(&EchoReply{}), io.EOF)
		assert.ErrorIs(t, s.Recv(&EchoReply{}), io.EOF, "the end is sticky")
		require.NoError(t, s.Close())

		// A handler error arrives as the stream's final error.
		s, err = c.client.Stream(ctx, "echo", "Echo.Chat")
		require.NoError(t, err)
		require.NoError(t, s.Send(&EchoRequest{Text: "bad", Fail: "yes"}))
		err = s.Recv(&EchoReply{})
		assert.Equal(t, errors.Conflict, errors.CodeOf(err))
		assert.ErrorContains(t, err, `chat refused "bad"`)
		require.NoError(t, s.Close())
	})
}

func TestPublishWithoutBroker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, clusterConfig{instances: 0})
		err := c.client.Publish(context.Background(), "events", &EchoRequest{})
		assert.Equal(t, errors.NotImplemented, errors.CodeOf(err))
		assert.ErrorContains(t, err, "WithBroker")
	})
}

func TestExponentialBackoffBounds(t *testing.T) {
	b := client.ExponentialBackoff(10*time.Millisecond, 200*time.Millisecond, newRand(7))
	for attempt, ceil := range map[int]time.Duration{1: 10 * time.Millisecond, 2: 20 * time.Millisecond, 3: 40 * time.Millisecond, 5: 160 * time.Millisecond, 6: 200 * time.Millisecond, 30: 200 * time.Millisecond} {
		var total time.Duration
		const n = 20000
		for range n {
			d := b(attempt)
			require.GreaterOrEqual(t, d, time.Duration(0))
			require.Less(t, d, ceil, "attempt %d", attempt)
			total += d
		}
		mean := total / n
		assert.InDelta(t, float64(ceil)/2, float64(mean), float64(ceil)*0.03, "full jitter: the mean is half the ceiling (attempt %d)", attempt)
	}
}

func TestDefaultPolicy(t *testing.T) {
	p := client.DefaultPolicy{MaxAttempts: 3}
	ctx := context.Background()
	plain, idem := &client.Request{}, &client.Request{Idempotent: true}
	unavailable := errors.New("x", errors.Unavailable, "")
	timeout := errors.New("x", errors.DeadlineExceeded, "")
	for _, tc := range []struct {
		req     *client.Request
		attempt int
		err     error
		want    bool
	}{
		{plain, 1, unavailable, true},
		{plain, 3, unavailable, false},
		{plain, 1, timeout, false},
		{idem, 1, timeout, true},
		{idem, 1, errors.New("x", errors.Interrupted, ""), true},
		{plain, 1, errors.New("x", errors.Interrupted, ""), false},
		{idem, 1, errors.New("x", errors.Internal, ""), false},
		{idem, 1, stderrors.New("plain error"), false},
	} {
		_, got := p.Retry(ctx, tc.req, tc.attempt, tc.err)
		assert.Equal(t, tc.want, got, "idempotent=%v attempt=%d err=%v", tc.req.Idempotent, tc.attempt, tc.err)
	}
	// No retry when the backoff would outlive the deadline.
	p.Backoff = func(int) time.Duration { return time.Hour }
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, got := p.Retry(dctx, plain, 1, unavailable)
	assert.False(t, got)
}

func TestResilienceOptionsValidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, clusterConfig{instances: 1})
		tr := c.net.Transport()
		for name, opt := range map[string]client.Option{
			"negative ratio":      client.WithRetryBudget(client.RetryBudget{Ratio: -1}),
			"negative min":        client.WithRetryBudget(client.RetryBudget{MinPerSecond: -1}),
			"tiny window":         client.WithRetryBudget(client.RetryBudget{Window: 5}),
			"negative delay":      client.WithHedging(client.HedgePolicy{Delay: -1, MaxHedges: 1}),
			"percentile above 1":  client.WithHedging(client.HedgePolicy{Percentile: 1.5, MaxHedges: 1}),
			"negative hedges":     client.WithHedging(client.HedgePolicy{Delay: time.Millisecond, MaxHedges: -1}),
			"negative samples":    client.WithHedging(client.HedgePolicy{Percentile: 0.9, MinSamples: -1, MaxHedges: 1}),
			"hedge without delay": client.WithHedging(client.HedgePolicy{MaxHedges: 1}),
		} {
			_, err := client.New(c.sel, tr, opt)
			assert.Error(t, err, name)
		}
		for name, opt := range map[string]client.Option{
			"default budget":   client.WithRetryBudget(client.DefaultRetryBudget()),
			"zero window":      client.WithRetryBudget(client.RetryBudget{Ratio: 0.1}),
			"hedging disabled": client.WithHedging(client.HedgePolicy{}),
		} {
			cl, err := client.New(c.sel, tr, opt)
			require.NoError(t, err, name)
			cl.Close()
		}
		// A bad per-call policy fails the call.
		err := c.client.Call(context.Background(), "echo", "Echo.Say", &EchoRequest{}, &EchoReply{},
			client.WithCallHedging(client.HedgePolicy{MaxHedges: 1}), client.WithIdempotent())
		assert.Equal(t, errors.BadRequest, errors.CodeOf(err))
		assert.ErrorContains(t, err, "hedging needs a delay")
	})
}
