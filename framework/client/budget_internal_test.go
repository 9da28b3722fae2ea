package client

import (
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBudgetColdStartAndRatio(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBudget(RetryBudget{Ratio: 0.2, MinPerSecond: 10, Window: 10 * time.Second})
		assert.False(t, b.withdraw(), "a budget created this instant has earned nothing")
		for range 4 {
			b.deposit()
		}
		assert.False(t, b.withdraw(), "4 calls × 0.2 < 1")
		b.deposit()
		assert.True(t, b.withdraw(), "5 calls × 0.2 = 1")
		assert.False(t, b.withdraw())
		time.Sleep(100 * time.Millisecond)
		assert.True(t, b.withdraw(), "100 ms × 10/s = 1 more")
		assert.False(t, b.withdraw())
		time.Sleep(time.Second)
		granted := 0
		for b.withdraw() {
			granted++
		}
		assert.Equal(t, 10, granted, "1 s × 10/s")
	})
}

func TestBudgetWindowSlides(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBudget(RetryBudget{Ratio: 0.5, Window: time.Second})
		for range 100 {
			b.deposit()
		}
		granted := 0
		for b.withdraw() {
			granted++
		}
		assert.Equal(t, 50, granted)
		// 0.9 s later the calls and the retries are still in the window.
		time.Sleep(900 * time.Millisecond)
		assert.False(t, b.withdraw())
		// At 1 s the bucket of the first calls has left the window.
		time.Sleep(100 * time.Millisecond)
		assert.False(t, b.withdraw(), "no call in the window")
		b.deposit()
		b.deposit()
		assert.True(t, b.withdraw())
		assert.False(t, b.withdraw())
	})
}

// TestBudgetBound drives a budget with random traffic (bursts, quiet
// stretches longer than the window) and checks after every event both
// guarantees: within every window, and since creation.
func TestBudgetBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rb := RetryBudget{Ratio: 0.2, MinPerSecond: 10, Window: 10 * time.Second}
		b := newBudget(rb)
		start := time.Now()
		r := rand.New(rand.NewPCG(4, 2))
		type event struct {
			at    time.Duration
			retry bool
		}
		var events []event
		var calls, retries, denied int
		for range 200_000 {
			switch x := r.IntN(1000); {
			case x < 1:
				time.Sleep(time.Duration(r.Int64N(int64(15 * time.Second))))
			case x < 300:
				time.Sleep(time.Duration(r.Int64N(int64(20 * time.Millisecond))))
			case x < 650:
				b.deposit()
				calls++
				events = append(events, event{at: time.Since(start)})
			default:
				if b.withdraw() {
					retries++
					events = append(events, event{at: time.Since(start), retry: true})
				} else {
					denied++
				}
			}
			elapsed := time.Since(start)
			require.LessOrEqual(t, float64(retries), rb.Ratio*float64(calls)+rb.MinPerSecond*elapsed.Seconds()+1e-9,
				"since creation, after %d calls, %v", calls, elapsed)
		}
		// At every grant, the budget's window (the 10 buckets ending with
		// the current one, since creation) holds at most its allowance.
		w := rb.Window / budgetBuckets
		j := 0
		var inCalls, inRetries int
		for i, e := range events {
			if e.retry {
				inRetries++
			} else {
				inCalls++
			}
			ws := max(e.at/w-budgetBuckets+1, 0) * w
			for events[j].at < ws {
				if events[j].retry {
					inRetries--
				} else {
					inCalls--
				}
				j++
			}
			if e.retry {
				require.LessOrEqual(t, float64(inRetries), rb.Ratio*float64(inCalls)+rb.MinPerSecond*(e.at-ws).Seconds()+1e-9, "event %d", i)
			}
		}
		t.Logf("%v virtual: %d calls, %d retries granted, %d denied; bound %0.f", time.Since(start), calls, retries, denied,
			rb.Ratio*float64(calls)+rb.MinPerSecond*time.Since(start).Seconds())
		assert.Positive(t, denied)
	})
}

// BenchmarkBudget measures a deposit and a withdrawal (the cost a call and
// a retry add), from parallel goroutines.
func BenchmarkBudget(b *testing.B) {
	bud := newBudget(DefaultRetryBudget())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bud.deposit()
			bud.withdraw()
		}
	})
}
