package client

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/internal/ctxwake"
)

// TestAttemptCtx: an attempt's ctx carries its AttemptInfo and its
// parent's values, deadline and end, and it is a ctxwake.Waker through a
// parent that is one (a client's default-timeout ctx), so that the wait
// for the reply makes no Done channel.
func TestAttemptCtx(t *testing.T) {
	type key struct{}
	c := &rpcClient{opts: options{attemptWrappers: []AttemptWrapper{func(next AttemptFunc) AttemptFunc { return next }}}}
	var pool sync.Pool
	f := &callFrame{}
	f.ctx.start(context.WithValue(context.Background(), key{}, "v"), time.Minute, &pool)
	node := &registry.Node{ID: "n", Address: "a"}

	ctx := c.withAttempt(&f.ctx, AttemptInfo{Number: 1, Node: node}, &f.req)
	a, ok := AttemptFromContext(ctx)
	require.True(t, ok)
	assert.Equal(t, AttemptInfo{Number: 1, Node: node}, a)
	assert.Equal(t, "v", ctx.Value(key{}), "the parent's values")
	dl, ok := ctx.Deadline()
	assert.True(t, ok)
	assert.Equal(t, f.ctx.deadline, dl)

	retry := c.withAttempt(&f.ctx, AttemptInfo{Number: 2, Node: node}, &f.req)
	b, _ := AttemptFromContext(retry)
	assert.Equal(t, 2, b.Number, "a retry has a ctx of its own")
	a, _ = AttemptFromContext(ctx)
	assert.Equal(t, 1, a.Number, "the first attempt's is left as it was")

	w, ok := ctx.(ctxwake.Waker)
	require.True(t, ok)
	ch := make(chan struct{}, 1)
	require.True(t, w.WakeOnEnd(ch), "registered with the default-timeout ctx")
	f.ctx.end(&pool)
	<-ch
	assert.ErrorIs(t, ctx.Err(), context.Canceled)
	assert.False(t, w.WakeOnEnd(ch), "refused once ended")

	plain, cancel := context.WithCancel(context.Background())
	defer cancel()
	var r Request
	pc := c.withAttempt(plain, AttemptInfo{Number: 1}, &r)
	assert.False(t, pc.(ctxwake.Waker).WakeOnEnd(ch), "no Waker under a parent that is none")
	pc.(ctxwake.Waker).StopWake(ch)

	none := &rpcClient{}
	assert.Same(t, plain, none.withAttempt(plain, AttemptInfo{Number: 1}, &Request{}),
		"a client without attempt wrappers passes ctx on")
}

// TestAttemptCtxAllocations: the first attempt's ctx costs no allocation
// (it lives in the Request), a later attempt's one.
func TestAttemptCtxAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	c := &rpcClient{opts: options{attemptWrappers: []AttemptWrapper{func(next AttemptFunc) AttemptFunc { return next }}}}
	r := &Request{}
	ctx := context.Background()
	var kept context.Context // the ctxs escape, as they do to an attempt wrapper
	first := testing.AllocsPerRun(100, func() {
		r.firstAttemptClaimed.Store(false)
		kept = c.withAttempt(ctx, AttemptInfo{Number: 1}, r)
	})
	assert.Zero(t, first)
	later := testing.AllocsPerRun(100, func() {
		kept = c.withAttempt(ctx, AttemptInfo{Number: 2}, r)
	})
	assert.Equal(t, 1.0, later)
	_ = kept
}

// TestAttemptCtxAfterFunc: what is derived from an attempt's ctx (a
// transport's context.AfterFunc, a wrapper's WithCancel) is registered
// with its parent, a call's deadlineCtx, rather than watched by a
// goroutine that would read the attempt's ctx after the call: it runs
// when the parent ends, and its stop takes it back from the parent.
func TestAttemptCtxAfterFunc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pool sync.Pool
		var d deadlineCtx
		d.start(context.Background(), time.Second, &pool)
		ac := &attemptCtx{Context: &d}
		ran := make(chan struct{})
		context.AfterFunc(ac, func() { close(ran) })
		stop := context.AfterFunc(ac, func() { t.Error("a stopped func ran") })
		child, cancel := context.WithCancel(ac)
		require.Len(t, d.after, 3, "registered with the parent")
		require.True(t, stop())
		cancel()
		require.Len(t, d.after, 1, "taken back by stop and cancel")
		require.ErrorIs(t, child.Err(), context.Canceled)
		d.end(&pool)
		<-ran
	})
}
