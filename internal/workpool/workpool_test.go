package workpool_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/microsim/microsim/internal/workpool"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun: every item is handled, items that block do not hold up the
// next ones (a goroutine is started while none waits), and Run returns
// once the source ended and every handle returned.
func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		items := make(chan int)
		release := make(chan struct{})
		var handled, blocked atomic.Int32
		done := make(chan struct{})
		go func() {
			defer close(done)
			workpool.Run(func() (int, bool) {
				v, ok := <-items
				return v, ok
			}, func(v int) {
				if v < 10 {
					blocked.Add(1)
					<-release // ten items block at once: each got a goroutine
				}
				handled.Add(1)
			})
		}()
		for i := range 100 {
			items <- i
		}
		synctest.Wait()
		require.EqualValues(t, 10, blocked.Load())
		require.EqualValues(t, 90, handled.Load())
		close(items)
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("Run returned while handle calls were running")
		default:
		}
		close(release)
		<-done
		require.EqualValues(t, 100, handled.Load())
	})
}

// TestRunKeepsFewIdle: after a burst, at most MaxIdle goroutines wait.
func TestRunKeepsFewIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		items := make(chan int)
		var wg sync.WaitGroup
		wg.Add(200)
		release := make(chan struct{})
		done := make(chan struct{})
		var waiting atomic.Int32
		go func() {
			defer close(done)
			workpool.Run(func() (int, bool) {
				waiting.Add(1)
				defer waiting.Add(-1)
				v, ok := <-items
				return v, ok
			}, func(int) {
				wg.Done()
				<-release
			})
		}()
		for i := range 200 {
			items <- i
		}
		wg.Wait()
		close(release)
		synctest.Wait()
		require.LessOrEqual(t, waiting.Load(), int32(workpool.MaxIdle))
		close(items)
		<-done
	})
}
