package client

import (
	"math"
	"math/bits"
	"sync"
	"time"
)

// The latency estimator behind percentile hedging: a log-linear histogram
// (HDR-like: 16 linear sub-buckets per power of two, so a bucket spans at
// most 1/16 of its values, about 6%) over the most recent samples. It keeps
// two halves of latencyHalf samples each; when the current half is full it
// replaces the previous one, so the estimate covers the last latencyHalf to
// 2×latencyHalf samples and follows a change within latencyHalf samples.
const (
	subBits     = 4
	subCount    = 1 << subBits
	maxLatency  = 1<<40 - 1 // about 18 minutes; longer samples count as this
	histBuckets = (40 - subBits + 1) * subCount
	latencyHalf = 1024
	// recomputeEvery is how many samples may arrive before a cached
	// percentile is computed again.
	recomputeEvery = 16
)

// latencyBucket returns the bucket of a latency of v nanoseconds.
func latencyBucket(v int64) int {
	if v < subCount {
		return int(max(v, 0))
	}
	v = min(v, maxLatency)
	e := bits.Len64(uint64(v)) - subBits - 1
	return (e+1)<<subBits + int(v>>e) - subCount
}

// bucketHigh returns the highest latency, in nanoseconds, of bucket i.
func bucketHigh(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	e := i>>subBits - 1
	m := int64(i&(subCount-1) + subCount)
	return (m+1)<<e - 1
}

// latencies estimates a percentile of recent latencies of one service. It
// takes its mutex for a few operations per sample and never across a wait.
type latencies struct {
	mu        sync.Mutex
	cur, prev [histBuckets]uint32
	curN      int
	prevN     int
	// The cached estimate: the delay for percentile cachedP, valid until
	// stale samples have arrived since it was computed.
	cachedP float64
	cachedD time.Duration
	stale   int
}

// record adds one latency sample. It does not block.
func (l *latencies) record(d time.Duration) {
	i := latencyBucket(int64(d))
	l.mu.Lock()
	if l.curN == latencyHalf {
		l.prev, l.prevN = l.cur, l.curN
		l.cur, l.curN = [histBuckets]uint32{}, 0
	}
	l.cur[i]++
	l.curN++
	l.stale++
	l.mu.Unlock()
}

// percentile returns the highest latency of the bucket holding the p-th
// quantile (0 < p <= 1) of the recent samples, and false while there are
// fewer than minSamples. It does not block.
func (l *latencies) percentile(p float64, minSamples int) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.curN + l.prevN
	if n == 0 || n < minSamples {
		return 0, false
	}
	if l.cachedP == p && l.cachedD > 0 && l.stale < recomputeEvery {
		return l.cachedD, true
	}
	rank := uint64(math.Ceil(p * float64(n)))
	rank = min(max(rank, 1), uint64(n))
	var seen uint64
	d := time.Duration(maxLatency)
	for i := range l.cur {
		seen += uint64(l.cur[i]) + uint64(l.prev[i])
		if seen >= rank {
			d = time.Duration(bucketHigh(i))
			break
		}
	}
	d = max(d, 1)
	l.cachedP, l.cachedD, l.stale = p, d, 0
	return d, true
}

// latencyBook holds the estimators of a client, one per service, created
// on first use.
type latencyBook struct {
	mu sync.RWMutex
	m  map[string]*latencies
}

// of returns service's estimator, creating it. It does not block.
func (b *latencyBook) of(service string) *latencies {
	b.mu.RLock()
	l := b.m[service]
	b.mu.RUnlock()
	if l != nil {
		return l
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if l = b.m[service]; l == nil {
		if b.m == nil {
			b.m = make(map[string]*latencies)
		}
		l = new(latencies)
		b.m[service] = l
	}
	return l
}
