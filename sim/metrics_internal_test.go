package sim

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An instance's latency histogram, kept in counters of its own, is the
// very hdr.Histogram that recording its attempts' latencies would make:
// the same counts in every bucket, so the same percentiles, for every
// value from 0 to the highest (each bucket's edges, every value up to
// 2^17, random values) and for highest values of several magnitudes.
func TestInstanceHistogramIsHdrs(t *testing.T) {
	for _, highest := range []time.Duration{time.Millisecond, 31 * time.Second, 11 * time.Minute, 100 * time.Hour} {
		m := newMetrics(time.Unix(0, 0), time.Second, 10*time.Second, highest)
		m.addInstances(2)
		want := hdr.New(1, m.highest, windowHistDigits)
		record := func(us int64) {
			n := int(1 + us%3)
			for range n {
				m.attempt(1, time.Unix(0, 0), time.Duration(us)*time.Microsecond, false)
				require.NoError(t, want.RecordValue(us))
			}
		}
		for v := range min(int64(1)<<17, m.highest+1) {
			record(v)
		}
		for p := int64(1); p <= m.highest; p *= 2 {
			for _, v := range []int64{p - 1, p, p + 1} {
				if v <= m.highest {
					record(v)
				}
			}
		}
		r := rand.New(rand.NewPCG(1, 2))
		for range 10000 {
			record(r.Int64N(m.highest + 1))
		}
		record(m.highest)

		got := m.instHistogram(1, m.newInstHistogram())
		require.NotNil(t, got)
		assert.Equal(t, want.Export().Counts, got.Export().Counts, "highest %v", highest)
		for _, q := range []float64{0, 1, 50, 90, 99, 99.9, 100} {
			assert.Equal(t, want.ValueAtQuantile(q), got.ValueAtQuantile(q), "highest %v, percentile %v", highest, q)
		}
		assert.Nil(t, m.instHistogram(0, m.newInstHistogram()), "an instance without attempts")
		assert.Equal(t, uint64(want.TotalCount()), m.instAttempts(1))
	}
}

// In a world of many instances the pending latencies are counted a large
// batch at a time, grouped by instance: every instance's histogram is
// still the hdr.Histogram of its own attempts, whether the batch was full
// or counted early (by a report), and the batch is as large as the world
// asks (16 latencies an instance).
func TestInstanceHistogramsGrouped(t *testing.T) {
	const n = 300
	m := newMetrics(time.Unix(0, 0), time.Second, 10*time.Second, 31*time.Second)
	m.addInstances(n)
	require.Equal(t, instPerBatch*n, m.inst.batch)
	want := make([]*hdr.Histogram, n)
	for i := range want {
		want[i] = hdr.New(1, m.highest, windowHistDigits)
	}
	r := rand.New(rand.NewPCG(3, 4))
	grouped := 0
	for k := range 3*m.inst.batch + 777 {
		id := r.IntN(n)
		if k%5 == 0 {
			id = 7 // one instance busier than the rest
		}
		us := int64(r.NormFloat64()*2000 + 5000)
		us = min(max(us, 0), m.highest)
		m.attempt(id, time.Unix(0, 0), time.Duration(us)*time.Microsecond, false)
		require.NoError(t, want[id].RecordValue(us))
		if len(m.inst.pending) == 0 {
			grouped++
		}
	}
	require.Equal(t, 3, grouped, "full batches counted")
	h := m.newInstHistogram()
	for id := range n {
		got := m.instHistogram(id, h)
		require.NotNil(t, got, "instance %d", id)
		require.Equal(t, want[id].Export().Counts, got.Export().Counts, "instance %d", id)
	}
	small := newMetrics(time.Unix(0, 0), time.Second, 10*time.Second, time.Second)
	small.addInstances(groupFrom - 1)
	assert.Equal(t, instBatch, small.inst.batch, "a small world's batch")
}

// A bucket's counter that is full counts on in the spill: the histogram
// has every attempt.
func TestInstanceHistogramSpill(t *testing.T) {
	m := newMetrics(time.Unix(0, 0), time.Second, 10*time.Second, time.Second)
	m.addInstances(1)
	m.attempt(0, time.Unix(0, 0), 5*time.Millisecond, false)
	m.inst.countPending()
	idx := m.inst.layout.index(5000)
	*m.inst.counter(0, idx) = math.MaxUint32 - 1
	for range 3 {
		m.attempt(0, time.Unix(0, 0), 5*time.Millisecond, true)
	}
	m.attempt(0, time.Unix(0, 0), time.Millisecond, false)
	h := m.instHistogram(0, m.newInstHistogram())
	assert.Equal(t, int64(math.MaxUint32)+2+1, h.TotalCount())
	assert.Equal(t, int64(math.MaxUint32)+2, h.Export().Counts[idx])
	assert.Equal(t, uint64(3), m.instFailures(0))
}

// The histogram reused from one instance to the next holds the last
// instance's attempts only.
func TestInstanceHistogramReused(t *testing.T) {
	m := newMetrics(time.Unix(0, 0), time.Second, 10*time.Second, time.Second)
	m.addInstances(2)
	for i := range 100 {
		m.attempt(0, time.Unix(0, 0), time.Duration(i)*time.Millisecond, false)
	}
	m.attempt(1, time.Unix(0, 0), 7*time.Millisecond, false)
	h := m.newInstHistogram()
	require.Equal(t, int64(100), m.instHistogram(0, h).TotalCount())
	one := m.instHistogram(1, h)
	assert.Equal(t, int64(1), one.TotalCount())
	assert.Equal(t, one.ValueAtQuantile(50), one.ValueAtQuantile(100))
	assert.Equal(t, 7007*time.Microsecond, percentile(one, 50), "7 ms: the highest value of its bucket, 6,976-7,007 µs")
}

// An instance's counters are made a page at a time, as its latencies
// need them: latencies within one page's counters make one page, and a
// latency elsewhere makes one more.
func TestInstanceHistogramPages(t *testing.T) {
	m := newMetrics(time.Unix(0, 0), time.Second, 10*time.Second, time.Minute)
	m.addInstances(3)
	for i := range histPage { // 4,096 to 6,112 µs, 32 µs apart: the counters of one page
		m.attempt(1, time.Unix(0, 0), time.Duration(4096+32*i)*time.Microsecond, false)
	}
	m.inst.countPending()
	assert.Equal(t, 1, m.inst.npages, "pages after the latencies of one page")
	m.attempt(2, time.Unix(0, 0), 30*time.Second, false)
	m.attempt(1, time.Unix(0, 0), 5*time.Second, false)
	h := m.instHistogram(1, m.newInstHistogram())
	assert.Equal(t, 3, m.inst.npages)
	assert.Equal(t, int64(65), h.TotalCount())
	assert.Nil(t, m.instHistogram(0, m.newInstHistogram()))
}

// An instance's percentiles, read from its pages in one walk, are
// hdr.Histogram's ValueAtQuantile of the same latencies, for every
// percentile from 0.1 to 100 and for latencies of several spreads: a few values, one value,
// a lognormal spread, values across the whole range. An instance with a
// full counter (its count in the spill) is left to the histogram.
func TestInstancePercentileIsHdrs(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	spreads := map[string]func() int64{
		"one value":  func() int64 { return 5000 },
		"few values": func() int64 { return []int64{7, 300, 301, 90000}[r.IntN(4)] },
		"lognormal":  func() int64 { return int64(math.Exp(8.5 + r.NormFloat64())) },
		"everywhere": func() int64 { return r.Int64N(31_000_000) },
	}
	for name, draw := range spreads {
		for _, n := range []int{1, 2, 7, 1000, 20000} {
			m := newMetrics(time.Unix(0, 0), time.Second, 10*time.Second, 31*time.Second)
			m.addInstances(2)
			for range n {
				m.attempt(1, time.Unix(0, 0), time.Duration(draw())*time.Microsecond, false)
			}
			h := m.instHistogram(1, m.newInstHistogram())
			var qs []float64
			for q := 0.1; q <= 100; q += 0.1 {
				qs = append(qs, q)
			}
			got := make([]time.Duration, len(qs))
			require.True(t, m.instPercentiles(1, qs, got))
			for k, q := range qs {
				require.Equal(t, percentile(h, q), got[k], "%s, %d latencies, percentile %v", name, n, q)
			}
			one := []time.Duration{time.Hour}
			assert.True(t, m.instPercentiles(0, []float64{50}, one))
			assert.Zero(t, one[0], "an instance without attempts")
		}
	}
	m := newMetrics(time.Unix(0, 0), time.Second, 10*time.Second, time.Second)
	m.addInstances(1)
	m.attempt(0, time.Unix(0, 0), 5*time.Millisecond, false)
	m.inst.countPending()
	*m.inst.counter(0, m.inst.layout.index(5000)) = math.MaxUint32
	m.attempt(0, time.Unix(0, 0), 5*time.Millisecond, false)
	assert.False(t, m.instPercentiles(0, []float64{50}, make([]time.Duration, 1)), "a count in the spill")
}
