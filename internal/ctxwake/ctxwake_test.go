package ctxwake_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/internal/ctxwake"
)

// wakeCtx is a minimal Waker and CancelWaker over a cancellable context:
// end sends the registered channel its token.
type wakeCtx struct {
	context.Context
	mu      sync.Mutex
	ch      chan struct{}
	ended   bool
	regs    int // successful WakeOnEnd calls
	stopped int // StopWake calls
}

func (c *wakeCtx) WakeOnEnd(ch chan struct{}) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil || c.ended {
		return false
	}
	c.ch = ch
	c.regs++
	return true
}

func (c *wakeCtx) StopWake(ch chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped++
	if c.ch == ch {
		c.ch = nil
	}
}

// WakeOnCancel is WakeOnEnd: the contexts of these tests end only by end.
func (c *wakeCtx) WakeOnCancel(ch chan struct{}) bool { return c.WakeOnEnd(ch) }

// Done is never used by Wait or Sleep on a wakeCtx: it fails the test if
// it is.
func (c *wakeCtx) Done() <-chan struct{} { panic("a wait selected on Done of a wakeCtx") }

func (c *wakeCtx) end(cancel context.CancelFunc) {
	cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended = true
	if c.ch != nil {
		select {
		case c.ch <- struct{}{}:
		default:
		}
		c.ch = nil
	}
}

// TestWaitOnWaker: through a Waker, Wait receives from its channel alone:
// a token returns nil, the ctx's end returns its error, and the channel is
// unregistered either way.
func TestWaitOnWaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		c := &wakeCtx{Context: parent}
		ch := make(chan struct{}, 1)

		res := make(chan error, 1)
		go func() { res <- ctxwake.Wait(c, ch) }()
		synctest.Wait()
		require.Empty(t, res, "Wait returned with no token and ctx not ended")
		ch <- struct{}{}
		synctest.Wait()
		require.Len(t, res, 1)
		assert.NoError(t, <-res)
		assert.Equal(t, 1, c.regs)
		assert.Equal(t, 1, c.stopped)
		assert.Nil(t, c.ch, "the channel is unregistered after the wait")

		go func() { res <- ctxwake.Wait(c, ch) }()
		synctest.Wait()
		require.Empty(t, res)
		c.end(cancel)
		synctest.Wait()
		require.Len(t, res, 1)
		assert.ErrorIs(t, <-res, context.Canceled)
		assert.Equal(t, 2, c.regs)
	})
}

// TestWaitFallsBack: Wait selects on Done for any other context, and for
// a Waker that refuses the channel (here: already ended).
func TestWaitFallsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ch := make(chan struct{}, 1)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		assert.ErrorIs(t, ctxwake.Wait(ctx, ch), context.DeadlineExceeded)
		assert.Equal(t, time.Second, time.Since(start))

		ch <- struct{}{}
		assert.NoError(t, ctxwake.Wait(context.Background(), ch), "a ctx with no Done: the token alone")

		parent, cancelParent := context.WithCancel(context.Background())
		c := &wakeCtx{Context: parent}
		c.end(cancelParent)
		assert.Panics(t, func() { _ = ctxwake.Wait(c, ch) }, "an ended Waker refuses the channel: Wait uses Done")
		assert.Equal(t, 0, c.regs)
	})
}

// TestSleeper: a Sleeper waits exactly its duration, or until the
// context's deadline (DeadlineExceeded) or cancellation (the context's
// error) when either comes first, through a CancelWaker's channel or any
// other context's Done; a cut-short sleep leaves nothing behind that
// would end the next one early.
func TestSleeper(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s ctxwake.Sleeper
		slept := func(ctx context.Context, d time.Duration) (time.Duration, error) {
			start := time.Now()
			err := s.Sleep(ctx, d)
			return time.Since(start), err
		}

		// Through a CancelWaker: the whole duration.
		parent, cancel := context.WithCancel(context.Background())
		c := &wakeCtx{Context: parent}
		took, err := slept(c, 3*time.Second)
		assert.NoError(t, err)
		assert.Equal(t, 3*time.Second, took)

		// Cancelled after 1s of 5.
		go func() {
			time.Sleep(time.Second)
			c.end(cancel)
		}()
		took, err = slept(c, 5*time.Second)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, time.Second, took)
		assert.Equal(t, 2, c.regs)

		// The next sleep is not cut short by what the last one left.
		parent, cancel = context.WithCancel(context.Background())
		defer cancel()
		c = &wakeCtx{Context: parent}
		took, err = slept(c, 2*time.Second)
		assert.NoError(t, err)
		assert.Equal(t, 2*time.Second, took)

		// A deadline before the end of the sleep: DeadlineExceeded at the
		// deadline, with no timer of the context's.
		dl, cancelDL := context.WithDeadline(context.Background(), time.Now().Add(1500*time.Millisecond))
		defer cancelDL()
		c = &wakeCtx{Context: dl}
		took, err = slept(c, 4*time.Second)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 1500*time.Millisecond, took)

		// Any other context: its Done channel.
		plain, cancelPlain := context.WithCancel(context.Background())
		go func() {
			time.Sleep(700 * time.Millisecond)
			cancelPlain()
		}()
		took, err = slept(plain, time.Hour)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 700*time.Millisecond, took)
		took, err = slept(context.Background(), 250*time.Millisecond)
		assert.NoError(t, err)
		assert.Equal(t, 250*time.Millisecond, took)

		// An ended context: its error at once.
		took, err = slept(plain, time.Second)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Zero(t, took)
	})
}
