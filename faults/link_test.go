package faults_test

import (
	"context"
	"math"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/faults"
	"github.com/microsim/microsim/framework/transport"
)

var aToB = faults.LinkFault{From: faults.Node("a"), To: faults.Node("b")}

// sendAll sends n numbered messages from cs and half-closes; the peer ss
// is drained concurrently. It returns the numbers received, in order.
func sendAll(t *testing.T, ctx context.Context, cs, ss transport.Socket, n int) []int {
	t.Helper()
	got := make(chan []int, 1)
	go func() {
		var nums []int
		for {
			m, err := ss.Recv(ctx)
			if err != nil {
				got <- nums
				return
			}
			nums = append(nums, numberOf(m))
		}
	}()
	for i := range n {
		require.NoError(t, cs.Send(ctx, numbered(i)))
	}
	require.NoError(t, cs.CloseSend())
	return <-got
}

// measure sends n messages one after the other through a link with the
// latency dist on requests and returns each one's time in flight, as the
// receiver sees it, in virtual time.
func measure(t *testing.T, seed uint64, dist faults.Dist, n int) []time.Duration {
	var out []time.Duration
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		inj := faults.New(seed)
		lk := newLink(t, inj)
		spec := aToB
		spec.Direction, spec.Latency = faults.Requests, dist
		_, err := inj.Inject(ctx, "latency", spec)
		require.NoError(t, err)
		for i := range n {
			sent := time.Now()
			require.NoError(t, lk.cs.Send(ctx, numbered(i)), "Send returns at once; the message is in flight")
			m, err := lk.ss.Recv(ctx)
			require.NoError(t, err)
			require.Equal(t, i, numberOf(m))
			out = append(out, time.Since(sent))
		}
	})
	return out
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	return sorted[int(q*float64(len(sorted)-1)+0.5)]
}

func meanStd(ds []time.Duration) (mean, std float64) {
	for _, d := range ds {
		mean += float64(d)
	}
	mean /= float64(len(ds))
	for _, d := range ds {
		std += (float64(d) - mean) * (float64(d) - mean)
	}
	return mean, math.Sqrt(std / float64(len(ds)))
}

func TestLinkLatencyLogNormal(t *testing.T) {
	const median, p99 = 50 * time.Millisecond, 100 * time.Millisecond
	s := measure(t, 3, faults.LogNormal(median, p99), 10000)
	slices.Sort(s)
	gotMedian, gotP99 := quantile(s, 0.5), quantile(s, 0.99)
	t.Logf("lognormal(median %v, p99 %v) over %d messages end to end: median %v, p99 %v", median, p99, len(s), gotMedian, gotP99)
	assert.InEpsilon(t, float64(median), float64(gotMedian), 0.05)
	assert.InEpsilon(t, float64(p99), float64(gotP99), 0.05)
}

func TestLinkLatencyDistributions(t *testing.T) {
	const n = 4000
	t.Run("constant", func(t *testing.T) {
		s := measure(t, 1, faults.Constant(20*time.Millisecond), 200)
		for _, d := range s {
			require.Equal(t, 20*time.Millisecond, d, "exact in virtual time")
		}
	})
	t.Run("jitter", func(t *testing.T) {
		s := measure(t, 1, faults.Constant(20*time.Millisecond).WithJitter(5*time.Millisecond), n)
		slices.Sort(s)
		mean, _ := meanStd(s)
		t.Logf("20ms ± 5ms: min %v max %v mean %v", s[0], s[len(s)-1], time.Duration(mean))
		assert.GreaterOrEqual(t, s[0], 15*time.Millisecond)
		assert.LessOrEqual(t, s[len(s)-1], 25*time.Millisecond)
		assert.InEpsilon(t, float64(20*time.Millisecond), mean, 0.02)
	})
	t.Run("uniform", func(t *testing.T) {
		s := measure(t, 1, faults.Uniform(10*time.Millisecond, 30*time.Millisecond), n)
		slices.Sort(s)
		mean, _ := meanStd(s)
		t.Logf("uniform(10ms, 30ms): min %v max %v mean %v", s[0], s[len(s)-1], time.Duration(mean))
		assert.GreaterOrEqual(t, s[0], 10*time.Millisecond)
		assert.LessOrEqual(t, s[len(s)-1], 30*time.Millisecond)
		assert.InEpsilon(t, float64(20*time.Millisecond), mean, 0.02)
		assert.InEpsilon(t, float64(15*time.Millisecond), float64(quantile(s, 0.25)), 0.05)
	})
	t.Run("normal", func(t *testing.T) {
		s := measure(t, 1, faults.Normal(50*time.Millisecond, 10*time.Millisecond), n)
		mean, std := meanStd(s)
		t.Logf("normal(50ms, 10ms): mean %v stddev %v", time.Duration(mean), time.Duration(std))
		assert.InEpsilon(t, float64(50*time.Millisecond), mean, 0.02)
		assert.InEpsilon(t, float64(10*time.Millisecond), std, 0.05)
	})
	t.Run("exponential", func(t *testing.T) {
		s := measure(t, 1, faults.Exponential(20*time.Millisecond), n)
		mean, std := meanStd(s)
		t.Logf("exponential(20ms): mean %v stddev %v", time.Duration(mean), time.Duration(std))
		assert.InEpsilon(t, float64(20*time.Millisecond), mean, 0.05)
		assert.InEpsilon(t, float64(20*time.Millisecond), std, 0.1)
	})
	t.Run("pareto", func(t *testing.T) {
		s := measure(t, 1, faults.Pareto(10*time.Millisecond, 2), n)
		slices.Sort(s)
		// P(X > x) = (scale/x)^alpha: the median is scale * 2^(1/alpha).
		scale := 10 * time.Millisecond
		want := time.Duration(float64(scale) * math.Sqrt2)
		t.Logf("pareto(10ms, 2): min %v median %v (want %v) p99 %v", s[0], quantile(s, 0.5), want, quantile(s, 0.99))
		assert.GreaterOrEqual(t, s[0], 10*time.Millisecond)
		assert.InEpsilon(t, float64(want), float64(quantile(s, 0.5)), 0.05)
		assert.InEpsilon(t, float64(100*time.Millisecond), float64(quantile(s, 0.99)), 0.15, "p99 = scale * 100^(1/alpha)")
	})
}

func TestLinkHoldAndRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		inj := faults.New(1)
		lk := newLink(t, inj)
		spec := aToB
		spec.Hold = true
		f, err := inj.Inject(ctx, "hold", spec)
		require.NoError(t, err)

		type arrival struct {
			n  int
			at time.Time
		}
		arrivals := make(chan arrival, 10)
		go func() {
			for {
				m, err := lk.ss.Recv(ctx)
				if err != nil {
					close(arrivals)
					return
				}
				arrivals <- arrival{numberOf(m), time.Now()}
			}
		}()
		for i := range 5 {
			require.NoError(t, lk.cs.Send(ctx, numbered(i)), "a held message is accepted")
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		require.Empty(t, arrivals, "nothing crosses while held")
		assert.Equal(t, uint64(5), f.Stats().Counts["held"])

		released := time.Now()
		require.NoError(t, f.Stop(ctx))
		for i := range 5 {
			a := <-arrivals
			assert.Equal(t, i, a.n, "released in order")
			assert.Equal(t, released, a.at, "released at once")
		}
		// Traffic flows freely again.
		require.NoError(t, lk.cs.Send(ctx, numbered(5)))
		a := <-arrivals
		assert.Equal(t, 5, a.n)
		require.NoError(t, lk.cs.Close())
		_, open := <-arrivals
		assert.False(t, open)
	})
}

func TestLinkResetAfterMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		inj := faults.New(1)
		lk := newLink(t, inj)
		spec := aToB
		spec.ResetAfterMessages = 3
		f, err := inj.Inject(ctx, "reset", spec)
		require.NoError(t, err)

		check := func(cs, ss transport.Socket) {
			for i := range 3 {
				require.NoError(t, cs.Send(ctx, numbered(i)))
				m, err := ss.Recv(ctx)
				require.NoError(t, err)
				require.Equal(t, i, numberOf(m))
			}
			require.ErrorIs(t, cs.Send(ctx, numbered(3)), transport.ErrReset, "the fourth message resets the connection")
			_, err := ss.Recv(ctx)
			require.ErrorIs(t, err, transport.ErrReset, "the peer sees the reset")
			_, err = cs.Recv(ctx)
			require.ErrorIs(t, err, transport.ErrReset)
		}
		check(lk.cs, lk.ss)
		cs, ss := lk.stream(t, ctx)
		check(cs, ss)
		assert.Equal(t, uint64(2), f.Stats().Counts["reset"], "a new connection gets 3 more messages")
	})
}

func TestLinkBandwidth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		inj := faults.New(1)
		lk := newLink(t, inj)
		spec := aToB
		spec.Bandwidth = 1000 // bytes/s: a 500-byte message takes 500ms
		_, err := inj.Inject(ctx, "bw", spec)
		require.NoError(t, err)

		start := time.Now()
		for range 4 {
			require.NoError(t, lk.cs.Send(ctx, &transport.Message{Body: make([]byte, 500)}))
		}
		require.Equal(t, start, time.Now(), "Send does not wait for the link")
		for i := range 4 {
			_, err := lk.ss.Recv(ctx)
			require.NoError(t, err)
			assert.Equal(t, time.Duration(i+1)*500*time.Millisecond, time.Since(start), "message %d", i)
		}
	})
}

// TestLinkLatencyKeepsOrder: a stream's messages never overtake each
// other, whatever their draws, and Send never waits for the link.
func TestLinkLatencyKeepsOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		inj := faults.New(5)
		lk := newLink(t, inj)
		spec := aToB
		spec.Bidirectional, spec.Latency = true, faults.Uniform(0, 100*time.Millisecond)
		_, err := inj.Inject(ctx, "jumpy", spec)
		require.NoError(t, err)
		got := sendAll(t, ctx, lk.cs, lk.ss, 200)
		assert.Len(t, got, 200)
		assert.True(t, slices.IsSorted(got), "requests in order")

		// Replies too, through the reader of the dialling side.
		cs, ss := lk.stream(t, ctx)
		go func() {
			for i := range 200 {
				_ = ss.Send(ctx, numbered(i))
			}
			_ = ss.CloseSend()
		}()
		start := time.Now()
		var replies []int
		for {
			m, err := cs.Recv(ctx)
			if err != nil {
				break
			}
			replies = append(replies, numberOf(m))
		}
		assert.Len(t, replies, 200)
		assert.True(t, slices.IsSorted(replies), "replies in order")
		assert.Less(t, time.Since(start), 200*time.Millisecond, "a stream of replies is not delayed message after message")
		require.NoError(t, cs.Close())
	})
}
