package sim

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCallCtx: a workload's calls see the run ctx's values, and neither
// its cancellation nor a deadline; a lookup through it costs no
// allocation (context.WithoutCancel's costs one).
func TestCallCtx(t *testing.T) {
	type key struct{}
	run, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	c := callCtx(run)
	assert.Nil(t, c.Done())
	_, ok := c.Deadline()
	assert.False(t, ok)
	cancel()
	assert.NoError(t, c.Err(), "the run's end does not reach the calls")
	assert.Equal(t, "v", c.Value(key{}))

	child, stop := context.WithTimeout(c, time.Hour)
	stop()
	require.ErrorIs(t, child.Err(), context.Canceled)
	assert.Equal(t, context.Canceled, context.Cause(child), "a ctx below keeps its own cause")

	if !raceEnabled {
		cs := &callState{Context: c}
		assert.Zero(t, testing.AllocsPerRun(100, func() { _ = cs.Value(key{}) }))
	}
}

// TestWorldSleep: a synthetic handler's latency wait lasts its duration,
// ends early with the ctx's error, and a pooled timer that was stopped
// early or fired waits its full new duration when reused.
func TestWorldSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &world{}
		ctx := context.Background()
		start := time.Now()
		require.NoError(t, w.sleep(ctx, 5*time.Millisecond))
		assert.Equal(t, 5*time.Millisecond, time.Since(start))

		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(time.Millisecond, cancel)
		start = time.Now()
		assert.ErrorIs(t, w.sleep(cctx, time.Second), context.Canceled)
		assert.Equal(t, time.Millisecond, time.Since(start))

		start = time.Now()
		require.NoError(t, w.sleep(ctx, 3*time.Millisecond))
		assert.Equal(t, 3*time.Millisecond, time.Since(start), "a reused timer keeps to its new duration")
	})
}
