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

// wakeCtx is a minimal Waker over a cancellable context: cancel sends the
// registered channel its token.
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

// Done is never used by Wait on a Waker: it fails the test if it is.
func (c *wakeCtx) Done() <-chan struct{} { panic("Wait selected on Done of a Waker") }

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
