package client_test

import (
	"context"
	stderrors "errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/server"
)

// TestAttemptTimeoutBoundedByDeadline: the per-attempt timeout never
// outlives the call's deadline: 5 s per attempt with 1 s left gives the
// attempt (and the handler) 1 s; with 10 s left it gives 5 s.
func TestAttemptTimeoutBoundedByDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, clusterConfig{instances: 1})
		for _, tc := range []struct{ left, want time.Duration }{{time.Second, time.Second}, {10 * time.Second, 5 * time.Second}} {
			ctx, cancel := context.WithTimeout(context.Background(), tc.left)
			require.NoError(t, c.client.Call(ctx, "echo", "Echo.Say", &EchoRequest{}, &EchoReply{}, client.WithCallAttemptTimeout(5*time.Second)))
			cancel()
		}
		e := c.echoes[0]
		assert.Equal(t, time.Second, e.seen[0].remaining)
		assert.Equal(t, 5*time.Second, e.seen[1].remaining)
	})
}

// Front is a handler that calls the echo service with its own ctx after
// working for a while.
type Front struct {
	client client.Client
	work   time.Duration
	got    time.Duration // Front's remaining deadline on arrival
}

func (f *Front) Relay(ctx context.Context, req *EchoRequest, rsp *EchoReply) error {
	dl, _ := ctx.Deadline()
	f.got = time.Until(dl)
	time.Sleep(f.work)
	return f.client.Call(ctx, "echo", "Echo.Say", req, rsp)
}

// TestOnwardCallsInheritDeadline: A (front) is called with 2 s; it works
// 300 ms of virtual time, then calls B (echo) with its own ctx: B's handler
// sees exactly 1.7 s.
func TestOnwardCallsInheritDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, clusterConfig{instances: 1})
		h := c.net.Host("front")
		fsel, err := selector.New(h.Registry())
		require.NoError(t, err)
		defer fsel.Close()
		fcl, err := client.New(fsel, h.Transport())
		require.NoError(t, err)
		defer fcl.Close()
		front := &Front{client: fcl, work: 300 * time.Millisecond}
		srv, err := server.New("front", h.Transport(), h.Registry())
		require.NoError(t, err)
		require.NoError(t, srv.Handle(front))
		require.NoError(t, srv.Start(context.Background()))
		defer srv.Stop(context.Background())

		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var rsp EchoReply
		require.NoError(t, c.client.Call(ctx, "front", "Front.Relay", &EchoRequest{Text: "via front"}, &rsp))
		assert.Equal(t, "via front", rsp.Text)
		assert.Equal(t, 2*time.Second, front.got)
		require.Len(t, c.echoes[0].seen, 1)
		assert.Equal(t, 1700*time.Millisecond, c.echoes[0].seen[0].remaining, "B sees A's deadline minus A's 300 ms")
	})
}

// deadlineOnly is a ctx whose deadline has passed but that does not say so
// (Done never closes): the client must look at the deadline itself.
type deadlineOnly struct {
	context.Context
	dl time.Time
}

func (c deadlineOnly) Deadline() (time.Time, bool) { return c.dl, true }

// TestExpiredDeadlineNotSent: an attempt whose deadline has passed is not
// sent: the client answers DeadlineExceeded itself, the selector hears of
// no attempt, no handler runs.
func TestExpiredDeadlineNotSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var track *trackingSelector
		probe := &attemptProbe{}
		c := newCluster(t, clusterConfig{instances: 3,
			wrapSel: func(s selector.Selector) selector.Selector {
				track = newTrackingSelector(s)
				return track
			},
			clientOpts: []client.Option{client.WithAttemptWrapper(probe.wrapper)},
		})

		// The deadline passed already (ctx.Err() is still nil).
		err := c.client.Call(deadlineOnly{context.Background(), time.Now()}, "echo", "Echo.Say", &EchoRequest{}, &EchoReply{})
		assert.Equal(t, errors.DeadlineExceeded, errors.CodeOf(err), "%v", err)
		assert.Equal(t, "microsim.client", errors.FromError(err).ID, "the client refused, not a server")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Empty(t, probe.reset(), "no attempt started")

		// An attempt wrapper spends the time left: the attempt under it is
		// not sent either.
		sleeper := func(next client.AttemptFunc) client.AttemptFunc {
			return func(ctx context.Context, addr string, req *client.Request, rsp any) error {
				dl, _ := ctx.Deadline()
				time.Sleep(time.Until(dl))
				return next(ctx, addr, req, rsp)
			}
		}
		cl, err := client.New(track, c.net.Host("client").Transport(), client.WithAttemptWrapper(sleeper))
		require.NoError(t, err)
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err = cl.Call(ctx, "echo", "Echo.Say", &EchoRequest{}, &EchoReply{}, client.WithIdempotent())
		assert.Equal(t, errors.DeadlineExceeded, errors.CodeOf(err), "%v", err)
		assert.Equal(t, "microsim.client", errors.FromError(err).ID)

		assert.Zero(t, sum(c.calls()), "no handler ran")
		tr := track.counts()
		assert.Equal(t, 1, tr.begun, "only the attempt the wrapper delayed was begun")
		assert.Equal(t, map[errors.Code]int{errors.DeadlineExceeded: 1}, tr.codes)
	})
}

// TestRetriesGoToUntriedNodes: with 5 nodes all refusing and 8 attempts,
// the first 5 attempts go to 5 different nodes; then a new round starts.
func TestRetriesGoToUntriedNodes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		probe := &attemptProbe{}
		refuse := func(int) func(context.Context, int) error {
			return func(context.Context, int) error { return errors.NewUnavailable("echo", "refusing") }
		}
		c := newCluster(t, clusterConfig{instances: 5, hook: refuse, clientOpts: []client.Option{
			client.WithAttemptWrapper(probe.wrapper),
			client.WithRetryPolicy(client.DefaultPolicy{MaxAttempts: 8}),
		}})
		for call := range 3 {
			err := c.client.Call(context.Background(), "echo", "Echo.Say", &EchoRequest{}, &EchoReply{})
			assert.Equal(t, errors.Unavailable, errors.CodeOf(err))
			as := probe.reset()
			require.Len(t, as, 8)
			seen := map[string]bool{}
			for _, a := range as[:5] {
				seen[a.addr] = true
			}
			assert.Len(t, seen, 5, "call %d: the first 5 attempts went to 5 different nodes", call)
			seen = map[string]bool{}
			for _, a := range as[5:] {
				seen[a.addr] = true
			}
			assert.Len(t, seen, 3, "call %d: the new round again avoids repeats", call)
		}
		assert.Equal(t, 24, sum(c.calls()))
		assert.Equal(t, uint64(21), c.stats().Retries)
	})
}

// TestCanceledCallNotSent: a call whose ctx was cancelled sends nothing.
func TestCanceledCallNotSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, clusterConfig{instances: 1})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := c.client.Call(ctx, "echo", "Echo.Say", &EchoRequest{}, &EchoReply{})
		assert.Equal(t, errors.Canceled, errors.CodeOf(err))
		assert.True(t, stderrors.Is(err, context.Canceled))
		assert.Zero(t, sum(c.calls()))
		assert.Zero(t, c.stats().Attempts)
	})
}
