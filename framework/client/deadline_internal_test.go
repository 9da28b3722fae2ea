package client

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/codec"
)

type ctxKey struct{}

// TestDeadlineCtxLikeWithTimeout: a deadlineCtx behaves as
// context.WithTimeout over the same parent: deadline, values, expiry,
// cancellation at the end of the call, and contexts derived from it.
func TestDeadlineCtxLikeWithTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pool sync.Pool
		parent := context.WithValue(context.Background(), ctxKey{}, "v")

		// Expiry.
		var c deadlineCtx
		c.start(parent, time.Second, &pool)
		dl, ok := c.Deadline()
		require.True(t, ok)
		assert.Equal(t, time.Now().Add(time.Second), dl)
		assert.Equal(t, "v", c.Value(ctxKey{}))
		assert.NoError(t, c.Err())
		child, cancelChild := context.WithCancel(&c)
		defer cancelChild()
		attempt, cancelAttempt := context.WithTimeout(&c, time.Hour)
		defer cancelAttempt()
		dl2, _ := attempt.Deadline()
		assert.Equal(t, dl, dl2, "a later attempt timeout is bounded by the call's deadline")
		fired := make(chan struct{})
		context.AfterFunc(&c, func() { close(fired) })
		stopped := context.AfterFunc(&c, func() { t.Error("stopped func ran") })
		require.True(t, stopped())

		time.Sleep(999 * time.Millisecond)
		select {
		case <-c.Done():
			t.Fatal("done before the deadline")
		default:
		}
		time.Sleep(time.Millisecond)
		<-c.Done()
		<-fired
		assert.ErrorIs(t, c.Err(), context.DeadlineExceeded)
		assert.ErrorIs(t, context.Cause(&c), context.DeadlineExceeded)
		synctest.Wait()
		assert.ErrorIs(t, child.Err(), context.DeadlineExceeded, "derived contexts see the deadline")
		assert.ErrorIs(t, attempt.Err(), context.DeadlineExceeded)
		c.end(&pool)
		assert.ErrorIs(t, c.Err(), context.DeadlineExceeded, "the end of the call does not change a deadline error")

		// The end of the call before the deadline: Canceled, the timer
		// goes back to the pool and never fires for the next user.
		var d deadlineCtx
		d.start(parent, time.Second, &pool)
		done := d.Done()
		child, cancelChild = context.WithCancel(&d)
		defer cancelChild()
		d.end(&pool)
		<-done
		assert.ErrorIs(t, d.Err(), context.Canceled)
		synctest.Wait()
		assert.ErrorIs(t, child.Err(), context.Canceled)

		var e deadlineCtx
		e.start(parent, time.Minute, &pool)
		time.Sleep(30 * time.Second)
		assert.NoError(t, e.Err(), "a recycled timer keeps to its new deadline")
		time.Sleep(30 * time.Second)
		synctest.Wait() // the timer's func runs at the same instant
		assert.ErrorIs(t, e.Err(), context.DeadlineExceeded)
		e.end(&pool)
	})
}

// TestDefaultTimeoutCtxAllocations: a deadlineCtx costs its Done channel
// only, where context.WithTimeout costs five allocations; a wait that
// registers its own channel instead (ctxwake.Waker) costs nothing.
func TestDefaultTimeoutCtxAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	var pool sync.Pool
	f := &callFrame{}
	allocs := testing.AllocsPerRun(100, func() {
		f.ctx = deadlineCtx{}
		f.ctx.start(context.Background(), time.Minute, &pool)
		_ = f.ctx.Done()
		f.ctx.end(&pool)
	})
	assert.LessOrEqual(t, allocs, 1.0)
	ch := make(chan struct{}, 1)
	allocs = testing.AllocsPerRun(100, func() {
		f.ctx = deadlineCtx{}
		f.ctx.start(context.Background(), time.Minute, &pool)
		if f.ctx.WakeOnEnd(ch) {
			f.ctx.StopWake(ch)
		}
		f.ctx.end(&pool)
	})
	assert.Zero(t, allocs, "with a registered channel instead of Done")
}

// TestDeadlineCtxWakes: as a ctxwake.Waker a deadlineCtx holds one channel
// at a time, sends it one token when the deadline passes or the call ends,
// and nothing once StopWake returned; it refuses a channel once ended.
func TestDeadlineCtxWakes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pool sync.Pool
		a, b := make(chan struct{}, 1), make(chan struct{}, 1)

		var c deadlineCtx
		c.start(context.Background(), time.Second, &pool)
		require.True(t, c.WakeOnEnd(a))
		assert.False(t, c.WakeOnEnd(b), "a second channel while one is registered")
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Len(t, a, 1, "the deadline wakes the channel")
		assert.Empty(t, b)
		assert.ErrorIs(t, c.Err(), context.DeadlineExceeded)
		assert.False(t, c.WakeOnEnd(b), "an ended ctx refuses a channel")
		c.end(&pool)
		assert.Len(t, a, 1, "one token only")
		<-a

		var d deadlineCtx
		d.start(context.Background(), time.Second, &pool)
		require.True(t, d.WakeOnEnd(a))
		d.StopWake(b) // not registered: no effect
		d.end(&pool)
		assert.Len(t, a, 1, "the end of the call wakes the channel")
		assert.ErrorIs(t, d.Err(), context.Canceled)
		<-a

		var e deadlineCtx
		e.start(context.Background(), time.Second, &pool)
		require.True(t, e.WakeOnEnd(a))
		e.StopWake(a)
		require.True(t, e.WakeOnEnd(b), "free again after StopWake")
		e.StopWake(b)
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Empty(t, a, "no token after StopWake")
		assert.Empty(t, b)
		assert.ErrorIs(t, e.Err(), context.DeadlineExceeded)
		e.end(&pool)
	})
}

// TestDeadlineCtxTaint: a deadlineCtx's frame may be reused once its call
// returned only when nothing can touch it any more. It can when every
// context derived from it was cancelled before the end (their stops took
// back their registrations); it cannot when its timer fired, when a
// derived context was still tied to it at the end (its func then starts
// and reads the ctx), when a stop was under way at the end (it takes the
// ctx's lock after), or when a func was registered after the end.
func TestDeadlineCtxTaint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pool sync.Pool
		parent := context.Background()
		run := func(name string, tainted bool, during func(c *deadlineCtx)) {
			t.Helper()
			var f callFrame
			f.ctx.start(parent, time.Second, &pool)
			during(&f.ctx)
			f.ctx.end(&pool)
			synctest.Wait()
			assert.Equal(t, !tainted, f.reusable(), name)
		}
		run("nothing derived", false, func(*deadlineCtx) {})
		run("derived and cancelled before the end", false, func(c *deadlineCtx) {
			_, cancel := context.WithCancel(c)
			_, cancelT := context.WithTimeout(c, time.Millisecond)
			time.Sleep(time.Millisecond) // the attempt timeout fires: its stop ran
			cancelT()                    // and runs again, without touching c
			cancel()
			stop := context.AfterFunc(c, func() { t.Error("stopped func ran") })
			stop()
		})
		run("timer fired", true, func(*deadlineCtx) { time.Sleep(time.Second) })
		run("derived, not cancelled at the end", true, func(c *deadlineCtx) {
			_, cancel := context.WithCancel(c)
			t.Cleanup(cancel)
		})
		run("a stop under way at the end", true, func(c *deadlineCtx) {
			c.AfterFunc(func() { t.Error("func of a stopped registration ran") })
			c.after[0].claimed.Store(true) // what stop does before it takes mu
		})
		var f callFrame
		f.ctx.start(parent, time.Second, &pool)
		f.ctx.end(&pool)
		ran := make(chan struct{})
		f.ctx.AfterFunc(func() { close(ran) })
		<-ran
		assert.False(t, f.reusable(), "registered after the end")
	})
}

// TestCallFrameReset: a reset frame is a new call's, every field of its
// Request zero but for its timeout buffer, whose string a server may
// still hold: the buffer is left as it was, and the next call formats its
// Micro-Timeout afresh. A field added to Request fails the test until
// reset clears it and the test sets it.
func TestCallFrameReset(t *testing.T) {
	var f callFrame
	first := f.req.timeoutHeader(1500 * time.Millisecond)
	r := &f.req
	r.Service, r.Endpoint, r.ContentType, r.Body, r.Idempotent = "s", "e", "c", 1, true
	r.opts, r.codec, r.body = CallOptions{ContentType: "c"}, codec.JSON(), []byte{1}
	r.firstAttempt = attemptCtx{Context: context.Background()}
	r.firstAttemptClaimed.Store(true)
	f.ctx.tainted.Store(true)
	f.ctx.deadline = time.Now()
	rv := reflect.ValueOf(r).Elem()
	require.Equal(t, 12, rv.NumField(), "Request's fields: reset and this test must know every one")
	for i := range rv.NumField() {
		if name := rv.Type().Field(i).Name; name != "timeoutBuf" {
			require.False(t, rv.Field(i).IsZero(), "Request.%s is not set by the test", name)
		}
	}

	f.reset()
	for i := range rv.NumField() {
		switch name := rv.Type().Field(i).Name; name {
		case "timeoutBuf":
		case "timeoutClaimed":
			assert.True(t, r.timeoutClaimed.Load(), "the buffer stays claimed")
		default:
			assert.True(t, rv.Field(i).IsZero(), "Request.%s is not reset", name)
		}
	}
	assert.True(t, f.reusable())
	assert.True(t, f.ctx.deadline.IsZero())
	again := r.timeoutHeader(2 * time.Second)
	assert.Equal(t, "1500000000", first, "an earlier call's string is left alone")
	assert.Equal(t, "2000000000", again)
}
