package client

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
