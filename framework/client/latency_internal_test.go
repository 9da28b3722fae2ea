package client

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLatencyBuckets: buckets are contiguous, ordered, and no wider than
// 1/16 of their values.
func TestLatencyBuckets(t *testing.T) {
	low := int64(0)
	for i := range histBuckets {
		high := bucketHigh(i)
		require.GreaterOrEqual(t, high, low, "bucket %d", i)
		require.Equal(t, i, latencyBucket(low), "bucket %d starts at %d", i, low)
		require.Equal(t, i, latencyBucket(high), "bucket %d ends at %d", i, high)
		if low >= subCount {
			require.LessOrEqual(t, float64(high-low+1), float64(low)/subCount, "bucket %d is at most 1/16 wide", i)
		}
		low = high + 1
	}
	assert.Equal(t, int64(maxLatency), bucketHigh(histBuckets-1))
	assert.Equal(t, histBuckets-1, latencyBucket(1<<62), "longer samples count as the longest")
	assert.Equal(t, 0, latencyBucket(-5))
}

// TestLatencyPercentile: against the exact nearest-rank percentile of
// random samples, the estimate is that sample's bucket's highest value.
func TestLatencyPercentile(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	var l latencies
	_, ok := l.percentile(0.95, 1)
	assert.False(t, ok, "no sample yet")
	var samples []time.Duration
	for range 1500 {
		d := time.Duration(r.ExpFloat64() * float64(20*time.Millisecond))
		samples = append(samples, d)
		l.record(d)
	}
	_, ok = l.percentile(0.95, 2000)
	assert.False(t, ok, "fewer than minSamples")
	for _, p := range []float64{0.5, 0.9, 0.95, 0.99, 1} {
		s := slices.Clone(samples)
		slices.Sort(s)
		exact := s[int(float64(len(s))*p+0.999999)-1]
		got, ok := l.percentile(p, 100)
		require.True(t, ok)
		assert.Equal(t, time.Duration(bucketHigh(latencyBucket(int64(exact)))), got, "p%v (exact %v)", p*100, exact)
	}
	// After 2 × 1,024 new samples the old ones are gone.
	for range 2 * latencyHalf {
		l.record(time.Millisecond)
	}
	got, _ := l.percentile(0.99, 100)
	assert.Equal(t, time.Duration(bucketHigh(latencyBucket(int64(time.Millisecond)))), got)
}
