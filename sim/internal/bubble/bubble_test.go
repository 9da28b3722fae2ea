package bubble_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/microsim/microsim/sim/internal/bubble"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestForTest: a Runner's bubble has virtual time: an hour of sleeping
// takes no real time, and Run returns after the bubble's goroutines.
func TestForTest(t *testing.T) {
	run := bubble.ForTest(t)
	wall := time.Now()
	var slept time.Duration
	done := false
	run(func() {
		start := time.Now()
		go func() {
			time.Sleep(30 * time.Minute)
			done = true
		}()
		time.Sleep(time.Hour)
		slept = time.Since(start)
	})
	assert.Equal(t, time.Hour, slept)
	assert.True(t, done)
	assert.Less(t, time.Since(wall), 5*time.Second)
}

// TestForTestConcurrent: bubbles of one Runner run in parallel, each with
// its own clock.
func TestForTestConcurrent(t *testing.T) {
	run := bubble.ForTest(t)
	var wg sync.WaitGroup
	slept := make([]time.Duration, 4)
	for i := range slept {
		wg.Go(func() {
			run(func() {
				start := time.Now()
				time.Sleep(time.Duration(i+1) * time.Hour)
				slept[i] = time.Since(start)
			})
		})
	}
	wg.Wait()
	assert.Equal(t, []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour, 4 * time.Hour}, slept)
}
