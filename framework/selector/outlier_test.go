package selector_test

import (
	"context"
	stderrors "errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/selector"
)

var (
	errUnavailable = errors.New("test", errors.Unavailable, "connection refused")
	errTimeout     = errors.New("test", errors.DeadlineExceeded, "timed out")
)

func TestEjectionAfterConsecutiveFailuresAndProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, 4, selector.WithOutlierDetection(selector.OutlierConfig{
			ConsecutiveFailures: 5, BaseEjectionTime: 30 * time.Second,
		}))
		h.fail("n-0001", errUnavailable)

		// Round robin: n-0001 gets every 4th call; its 5th failure ejects it.
		counts := h.calls(20)
		assert.Equal(t, 5, counts["n-0001"])
		assert.Equal(t, []string{"n-0001"}, h.ejected())
		st := h.stats("n-0001")
		assert.Equal(t, uint64(1), st.Ejections)
		assert.Equal(t, uint64(5), st.NodeFailures)

		// Ejected: no traffic for 30 s.
		assert.Zero(t, h.calls(1000)["n-0001"])
		time.Sleep(30*time.Second - time.Millisecond)
		assert.Zero(t, h.calls(100)["n-0001"])

		// Half-open: exactly one probe, the first call after the ejection.
		time.Sleep(time.Millisecond)
		assert.Equal(t, "n-0001", h.call(), "the probe")
		// The probe failed: ejected again, for twice as long.
		assert.Equal(t, uint64(2), h.stats("n-0001").Ejections)
		assert.Zero(t, h.calls(1000)["n-0001"])
		time.Sleep(60*time.Second - time.Millisecond)
		assert.Zero(t, h.calls(100)["n-0001"])
		time.Sleep(time.Millisecond)

		// The node recovers: the next probe succeeds and it is back to a
		// full share at once.
		h.fail("n-0001", nil)
		assert.Equal(t, "n-0001", h.call(), "the probe")
		assert.Empty(t, h.ejected())
		assert.Equal(t, 250, h.calls(1000)["n-0001"])
	})
}

func TestProbeIsExactlyOneRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, 4, selector.WithOutlierDetection(selector.OutlierConfig{ConsecutiveFailures: 3}))
		h.fail("n-0002", errTimeout)
		h.calls(12)
		require.Equal(t, []string{"n-0002"}, h.ejected())
		time.Sleep(selector.DefaultBaseEjectionTime)

		// 50 concurrent calls, whose attempts all stay in flight: one of
		// them, and only one, is the probe.
		var wg sync.WaitGroup
		var mu sync.Mutex
		var got []string
		var dones []func(error)
		for range 50 {
			wg.Go(func() {
				next, err := h.s.Select(context.Background(), "svc")
				if !assert.NoError(t, err) {
					return
				}
				n, _ := next.Next()
				done := h.tr.Begin("svc", n)
				mu.Lock()
				got, dones = append(got, n.ID), append(dones, done)
				mu.Unlock()
			})
		}
		wg.Wait()
		probes := 0
		for _, id := range got {
			if id == "n-0002" {
				probes++
			}
		}
		assert.Equal(t, 1, probes)
		assert.Zero(t, h.calls(100)["n-0002"], "no second probe while the first is pending")
		assert.Equal(t, int64(1), h.stats("n-0002").InFlight)
		h.fail("n-0002", nil)
		for i, done := range dones {
			done(h.err[got[i]])
		}
		assert.Empty(t, h.ejected())
	})
}

func TestUnansweredProbeIsSentAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, 2, selector.WithOutlierDetection(selector.OutlierConfig{ConsecutiveFailures: 1, BaseEjectionTime: 10 * time.Second}))
		h.fail("n-0000", errUnavailable)
		h.calls(2)
		require.Equal(t, []string{"n-0000"}, h.ejected())
		time.Sleep(10 * time.Second)
		// A call selects the probe but never sends it.
		next, err := h.s.Select(context.Background(), "svc")
		require.NoError(t, err)
		_ = next
		assert.Zero(t, h.calls(10)["n-0000"])
		// After another BaseEjectionTime the probe is given up and sent again.
		time.Sleep(10 * time.Second)
		h.fail("n-0000", nil)
		assert.Equal(t, "n-0000", h.call())
		assert.Empty(t, h.ejected())

		// A cancelled probe says nothing: the next call probes again.
		h.fail("n-0000", errUnavailable)
		h.calls(2)
		require.Equal(t, []string{"n-0000"}, h.ejected())
		time.Sleep(time.Minute)
		h.fail("n-0000", errors.New("test", errors.Canceled, "hedge lost"))
		assert.Equal(t, "n-0000", h.call())
		assert.Equal(t, "n-0000", h.call(), "probed again at once")
	})
}

func TestApplicationErrorsNeverEject(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, 3, selector.WithOutlierDetection(selector.OutlierConfig{
			ConsecutiveFailures: 2, SuccessRateThreshold: 0.9, SuccessRateMinRequests: 5,
		}))
		codes := []errors.Code{errors.Internal, errors.NotFound, errors.BadRequest, errors.Conflict,
			errors.Unauthorized, errors.Forbidden, errors.NotImplemented, errors.ResourceExhausted, errors.Unknown}
		for i, c := range codes {
			h.fail(fmt.Sprintf("n-%04d", i%3), errors.New("handler", c, "app says no"))
			h.calls(30)
		}
		h.fail("n-0000", context.Canceled)
		h.fail("n-0001", errors.New("test", errors.Canceled, "caller gave up"))
		h.calls(30)
		assert.Empty(t, h.ejected())
		for _, st := range h.sr.Stats("svc") {
			assert.Positive(t, st.Failures)
			assert.Zero(t, st.NodeFailures, st.ID)
		}
	})
}

func TestIsNodeFailure(t *testing.T) {
	for err, want := range map[error]bool{
		errUnavailable: true,
		errTimeout:     true,
		errors.New("x", errors.Interrupted, "lost"): true,
		context.DeadlineExceeded:                    true,
		stderrors.New("dial: connection refused"):   true,
		fmt.Errorf("wrapped: %w", errUnavailable):   true,
		errors.New("x", errors.Internal, "boom"):    false,
		errors.New("x", errors.NotFound, "no"):      false,
		errors.New("x", errors.Canceled, "bye"):     false,
		context.Canceled:                            false,
	} {
		assert.Equal(t, want, selector.IsNodeFailure(err), "%v", err)
	}
	assert.False(t, selector.IsNodeFailure(nil))
}

func TestMaxEjectedPercent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, 4, selector.WithOutlierDetection(selector.OutlierConfig{
			ConsecutiveFailures: 3, MaxEjectedPercent: 50,
		}))
		for _, id := range []string{"n-0000", "n-0001", "n-0002"} {
			h.fail(id, errUnavailable)
		}
		counts := h.calls(1000)
		assert.Len(t, h.ejected(), 2, "3 of 4 failing, at most 50% ejected")
		// The third failing node stays in rotation with the healthy one.
		var kept string
		for _, id := range []string{"n-0000", "n-0001", "n-0002"} {
			if h.stats(id).Ejected {
				assert.Less(t, counts[id], 10, id)
			} else {
				kept = id
			}
		}
		assert.Greater(t, counts[kept], 400)
		assert.Greater(t, counts["n-0003"], 400)
	})
}

func TestSuccessRateEjection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, 2, selector.WithOutlierDetection(selector.OutlierConfig{
			ConsecutiveFailures:    -1, // only the success rate
			SuccessRateThreshold:   0.7,
			SuccessRateWindow:      10 * time.Second,
			SuccessRateMinRequests: 20,
		}))
		// n-0000 fails every other call: never twice in a row, but a 50%
		// success rate; it goes once 20 of its calls are in the window.
		var mu sync.Mutex
		k := 0
		for range 38 {
			mu.Lock()
			k++
			if k%2 == 0 {
				h.fail("n-0000", errUnavailable)
			} else {
				h.fail("n-0000", nil)
			}
			mu.Unlock()
			h.call()
			h.call()
		}
		assert.Equal(t, uint64(1), h.stats("n-0000").Ejections)
		assert.Equal(t, uint64(20), h.stats("n-0000").Requests)

		// A rate above the threshold is fine; the window is tumbling, so
		// old failures are forgotten.
		h2 := newHarness(t, 2, selector.WithOutlierDetection(selector.OutlierConfig{
			ConsecutiveFailures: -1, SuccessRateThreshold: 0.7, SuccessRateMinRequests: 20,
		}))
		for i := range 400 {
			if i%8 == 0 {
				h2.fail("n-0000", errUnavailable)
			} else {
				h2.fail("n-0000", nil)
			}
			h2.call()
			if i%20 == 0 {
				time.Sleep(time.Second)
			}
		}
		assert.Empty(t, h2.ejected())
	})
}

func TestEjectionTimeGrowsAndDecays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, 2, selector.WithOutlierDetection(selector.OutlierConfig{
			ConsecutiveFailures: 1, BaseEjectionTime: 10 * time.Second, MaxEjectionTime: 25 * time.Second,
		}))
		h.fail("n-0000", errUnavailable)
		// ejectedFor measures how long n-0000 gets no call, probing each
		// second; the probes fail while it is failing.
		ejectedFor := func() time.Duration {
			start := time.Now()
			for h.call() != "n-0000" {
				time.Sleep(time.Second)
			}
			return time.Since(start).Round(time.Second)
		}
		h.calls(2)
		assert.Equal(t, 10*time.Second, ejectedFor(), "first: base")
		assert.Equal(t, 20*time.Second, ejectedFor(), "second: 2x base")
		assert.Equal(t, 25*time.Second, ejectedFor(), "third: capped")
		assert.Equal(t, uint64(4), h.stats("n-0000").Ejections)
		h.fail("n-0000", nil)
		for h.call() != "n-0000" {
			time.Sleep(time.Second)
		}
		require.Empty(t, h.ejected())
		// Healthy for 25 s (2.5 base): the multiplier (4) drops by 2.
		time.Sleep(25 * time.Second)
		h.fail("n-0000", errUnavailable)
		for h.call() != "n-0000" {
		}
		assert.Equal(t, 25*time.Second, ejectedFor(), "3x base, still capped")
		h.fail("n-0000", nil)
		ejectedFor()
		time.Sleep(10 * time.Minute)
		h.fail("n-0000", errUnavailable)
		for h.call() != "n-0000" {
		}
		assert.Equal(t, 10*time.Second, ejectedFor(), "long healthy: back to base")
	})
}

func TestOutlierDetectionOffByDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, 2)
		h.fail("n-0000", errUnavailable)
		assert.Equal(t, 500, h.calls(1000)["n-0000"])
		assert.Empty(t, h.ejected())
		assert.Equal(t, uint64(500), h.stats("n-0000").NodeFailures)
	})
}

func TestOutlierConfigValidation(t *testing.T) {
	reg := newFakeRegistry()
	for name, cfg := range map[string]selector.OutlierConfig{
		"threshold > 1":    {SuccessRateThreshold: 1.5},
		"threshold < 0":    {SuccessRateThreshold: -0.1},
		"negative base":    {BaseEjectionTime: -time.Second},
		"percent > 100":    {MaxEjectedPercent: 101},
		"negative percent": {MaxEjectedPercent: -1},
		"max below base":   {BaseEjectionTime: time.Minute, MaxEjectionTime: time.Second},
		"negative min":     {SuccessRateMinRequests: -1},
	} {
		_, err := selector.New(reg, selector.WithOutlierDetection(cfg))
		assert.Error(t, err, name)
	}
}

func TestCustomFailureClassifier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A caller that wants handler crashes (Internal) to count.
		h := newHarness(t, 2, selector.WithOutlierDetection(selector.OutlierConfig{
			ConsecutiveFailures: 2,
			IsFailure: func(err error) bool {
				return selector.IsNodeFailure(err) || errors.CodeOf(err) == errors.Internal
			},
		}))
		h.fail("n-0001", errors.New("handler", errors.Internal, "panic"))
		h.calls(4)
		assert.Equal(t, []string{"n-0001"}, h.ejected())
	})
}

func TestMarkDrivesEjectionToo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, 3, selector.WithOutlierDetection(selector.OutlierConfig{ConsecutiveFailures: 2}))
		mark := func() string {
			next, err := h.s.Select(context.Background(), "svc")
			require.NoError(t, err)
			n, _ := next.Next()
			e := error(nil)
			if n.ID == "n-0000" {
				e = errUnavailable
			}
			h.s.Mark("svc", n, e)
			return n.ID
		}
		for range 6 {
			mark()
		}
		assert.Equal(t, []string{"n-0000"}, h.ejected())
		for range 30 {
			assert.NotEqual(t, "n-0000", mark())
		}
		time.Sleep(selector.DefaultBaseEjectionTime)
		assert.Equal(t, "n-0000", mark(), "the probe, marked as failed")
		assert.Equal(t, uint64(2), h.stats("n-0000").Ejections)
	})
}
