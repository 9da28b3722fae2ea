package sim

import (
	"iter"
	"math"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	fwerrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/sim/scenario"
)

// Metrics are recorded as the run goes: every call (by workload and
// endpoint, a "series") and every attempt (by instance), each into an HDR
// histogram for the whole run and into per-window counters and histograms.
// Windows are indexed by when a call or attempt started. One mutex guards
// it all; it is held only for a few array increments and RecordValue
// calls, never across a wait.

// Histogram precision (scenario.HistogramDigits, WindowHistogramDigits)
// is the schema's: its limits estimate a run's memory with it.
const (
	histDigits       = scenario.HistogramDigits
	windowHistDigits = scenario.WindowHistogramDigits
)

// numCodes is the number of framework error codes counted by class.
const numCodes = int(fwerrors.ResourceExhausted) + 1

type metrics struct {
	t0      time.Time
	window  time.Duration
	nwin    int
	highest int64 // µs; larger latencies are recorded as this

	mu     sync.Mutex
	series []*seriesStats
	inst   instStats
	// edges are the calls services make to other services' endpoints
	// (workload is the caller, endpoint "service/Endpoint"), by edgeIdx.
	edges   []*seriesStats
	edgeIdx map[edgeKey]int
	// topics are the events published and delivered, by topic stream.
	topics []*topicStats
	// streams are the stream workloads' streams and messages.
	streams []*streamStats
}

// seriesStats are one workload's calls to one endpoint.
type seriesStats struct {
	workload, endpoint string
	client             string // the workload's client
	calls, ok          uint64
	cancelled          uint64 // edges: calls the caller cancelled (a step had what it needed)
	byCode             [numCodes]uint64
	attempts           uint64
	hist               *hdr.Histogram
	win                []winStats
}

type winStats struct {
	calls, ok, attempts uint32
	hist                *hdr.Histogram // allocated on the window's first call
}

// instStats are the attempts that went to each instance, by instance id,
// in flat arrays rather than in a structure of each instance's own: in a
// world of 1,000 instances an instance's data is out of the CPU's cache
// by its next attempt. An attempt counts in its window's row, which the
// attempts of every instance share (so it stays in the cache), and adds
// its latency to pending; the latencies pending are counted into the
// instances' histograms a batch at a time, which lets the CPU fetch the
// counters of many attempts at once where counting each attempt on its
// own would wait for its counter.
//
// An instance's latency counters, in hdr's buckets (histLayout), are
// kept in pages of histPage counters, made at the first latency that
// counts in them: an instance's latencies fall in a few pages of the
// ~36 of a histogram, so that a world of 1,000 instances holds a few
// pages of each rather than 1,000 whole histograms (9 MB) that its
// first minute has to clear and the CPU's cache to hold.
type instStats struct {
	n        int
	win      []uint32 // attempts of instance id in window k: win[k*n+id]
	failures []uint64 // failed attempts by instance
	// page is the page of instance id's counters from p*histPage on:
	// page[p*n+id] is 0 if none was made, else 1 + its number (pageOf).
	// By page first: the latencies of a world's calls fall in few pages,
	// whose slots for all instances then share a few cache lines, where a
	// call to each of many instances would fetch a line of its own.
	page    []int32
	perHist int        // pages of a histogram
	chunks  [][]uint32 // the pages, chunkPages in each chunk
	npages  int        // pages made
	// spill counts what a full uint32 counter could not.
	spill   map[instBucket]uint64
	pending []instBucket // latencies not yet counted
	batch   int          // how many latencies pending are counted at once
	// byInst and at are the scratch of grouped.
	byInst []instBucket
	at     []uint32
	layout histLayout
}

// instBucket is a counter of an instance's histogram: id's counter idx.
type instBucket struct{ id, idx uint32 }

// instBatch is the least number of latencies counted at once;
// instPerBatch the number a batch has for each instance in a world of
// many, whose instances' counters are fetched once for a batch's
// latencies of each (grouped) where the latencies in the order of the
// attempts fetched them for each; maxInstBatch bounds a batch (512 KiB).
const (
	instBatch    = 1024
	instPerBatch = 16
	maxInstBatch = 1 << 16
	// groupFrom is the least number of instances whose batches are
	// grouped: the counters of fewer stay in the CPU's cache anyway.
	groupFrom = 64
)

func newMetrics(t0 time.Time, window, length, highest time.Duration) *metrics {
	nwin := int((length + window - 1) / window)
	return &metrics{t0: t0, window: window, nwin: max(nwin, 1), highest: max(highest.Microseconds(), 1000)}
}

// addSeries registers a series and returns its id.
func (m *metrics) addSeries(workload, endpoint, client string) int {
	m.series = append(m.series, &seriesStats{
		workload: workload, endpoint: endpoint, client: client,
		hist: hdr.New(1, m.highest, histDigits),
		win:  make([]winStats, m.nwin),
	})
	return len(m.series) - 1
}

// histPage is the number of counters in a page of an instance's
// histogram, in four cache lines: half the counters of a bucket of two
// significant digits (a bucket counts the values from 2^k*128 to
// 2^k*256 in 128 steps of 2^k).
const histPage = 64

// addInstances registers n instances, with ids 0 to n-1, before the
// first attempt. An instance's attempt histogram keeps 2 significant
// digits in uint32 counters (~9 KiB whole, where an hdr.Histogram of 3
// digits takes ~110 KiB), in pages made as its latencies need them.
func (m *metrics) addInstances(n int) {
	layout := newHistLayout(m.highest, windowHistDigits)
	per := (layout.counts + histPage - 1) / histPage
	batch := instBatch
	if n >= groupFrom {
		batch = min(max(instBatch, instPerBatch*n), maxInstBatch)
	}
	m.inst = instStats{n: n, win: make([]uint32, m.nwin*n), failures: make([]uint64, n),
		page: make([]int32, n*per), perHist: per,
		pending: make([]instBucket, 0, batch), batch: batch, layout: layout}
}

// windowOf is the index of the window holding t, clamped to the run.
func (m *metrics) windowOf(t time.Time) int {
	w := int(t.Sub(m.t0) / m.window)
	return min(max(w, 0), m.nwin-1)
}

func (m *metrics) micros(d time.Duration) int64 {
	return min(max(d.Microseconds(), 0), m.highest)
}

// edgeKey names an edge: the calling service and the callee's service
// and endpoint.
type edgeKey struct{ caller, service, endpoint string }

// edge returns the id of the edge from caller to service's endpoint,
// registering it on first use. It does not block.
func (m *metrics) edge(caller, service, endpoint string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.edgeLocked(edgeKey{caller, service, endpoint})
}

// edgeLocked is edge with m.mu held.
func (m *metrics) edgeLocked(k edgeKey) int {
	if id, ok := m.edgeIdx[k]; ok {
		return id
	}
	if m.edgeIdx == nil {
		m.edgeIdx = map[edgeKey]int{}
	}
	m.edges = append(m.edges, &seriesStats{
		workload: k.caller, endpoint: k.service + "/" + k.endpoint,
		hist: hdr.New(1, m.highest, histDigits),
		win:  make([]winStats, m.nwin),
	})
	m.edgeIdx[k] = len(m.edges) - 1
	return len(m.edges) - 1
}

// edgeCall records one finished call on edge id; a call its caller
// cancelled is counted apart, not as a failure. It does not block.
func (m *metrics) edgeCall(id int, start time.Time, latency time.Duration, err error, attempts uint32, cancelled bool) {
	if cancelled {
		m.mu.Lock()
		m.edges[id].cancelled++
		m.mu.Unlock()
		return
	}
	x := m.sample(start, latency, err)
	m.mu.Lock()
	m.add(m.edges[id], x, attempts)
	m.mu.Unlock()
}

// edgeCallTo records one finished call from caller to service's endpoint,
// registering the edge on first use: the calls of Go handlers, whose
// callees are known only when they call. It does not block.
func (m *metrics) edgeCallTo(caller, service, endpoint string, start time.Time, latency time.Duration, err error, attempts uint32) {
	x := m.sample(start, latency, err)
	m.mu.Lock()
	m.add(m.edges[m.edgeLocked(edgeKey{caller, service, endpoint})], x, attempts)
	m.mu.Unlock()
}

// call records one finished call of series id. It does not block.
func (m *metrics) call(id int, start time.Time, latency time.Duration, err error, attempts uint32) {
	// Series are all added before the first call: no lock to read them.
	m.record(m.series[id], start, latency, err, attempts)
}

// record adds one finished call to s. It does not block.
func (m *metrics) record(s *seriesStats, start time.Time, latency time.Duration, err error, attempts uint32) {
	x := m.sample(start, latency, err)
	m.mu.Lock()
	m.add(s, x, attempts)
	m.mu.Unlock()
}

// callSample is what a finished call records, computed before the lock is
// taken: its window, latency in µs, and error code class (-1: success).
type callSample struct {
	win  int
	us   int64
	code int
}

func (m *metrics) sample(start time.Time, latency time.Duration, err error) callSample {
	code := -1
	if err != nil {
		code = int(fwerrors.CodeOf(err))
		if code < 0 || code >= numCodes {
			code = int(fwerrors.Unknown)
		}
	}
	return callSample{win: m.windowOf(start), us: m.micros(latency), code: code}
}

// add adds one finished call to s; m.mu is held.
func (m *metrics) add(s *seriesStats, x callSample, attempts uint32) {
	s.calls++
	s.attempts += uint64(attempts)
	ws := &s.win[x.win]
	ws.calls++
	ws.attempts += attempts
	if x.code < 0 {
		s.ok++
		ws.ok++
	} else {
		s.byCode[x.code]++
	}
	_ = s.hist.RecordValue(x.us)
	if ws.hist == nil {
		ws.hist = hdr.New(1, m.highest, windowHistDigits)
	}
	_ = ws.hist.RecordValue(x.us)
}

// attempt records one attempt on instance id. It does not block.
func (m *metrics) attempt(id int, start time.Time, latency time.Duration, failed bool) {
	w := m.windowOf(start)
	idx := m.inst.layout.index(m.micros(latency))
	m.mu.Lock()
	s := &m.inst
	s.win[w*s.n+id]++
	if failed {
		s.failures[id]++
	}
	s.pending = append(s.pending, instBucket{uint32(id), uint32(idx)})
	if len(s.pending) >= s.batch {
		s.countPending()
	}
	m.mu.Unlock()
}

// countPending counts the pending latencies into the histograms; m.mu is
// held.
func (s *instStats) countPending() {
	pending := s.pending
	if s.n >= groupFrom && len(pending) > s.n {
		pending = s.grouped(pending)
	}
	for _, b := range pending {
		if int(b.idx) >= s.layout.counts {
			continue // as hdr.Histogram.RecordValue: too large (micros clamps it: none is)
		}
		c := s.counter(int(b.id), int(b.idx))
		if *c < math.MaxUint32 {
			*c++
		} else {
			if s.spill == nil {
				s.spill = map[instBucket]uint64{}
			}
			s.spill[b]++
		}
	}
	s.pending = s.pending[:0]
}

// grouped returns the latencies of p by instance, in the order of the
// attempts for each (a counting sort into s.byInst): their counting then
// fetches the counters of an instance once for all its latencies of the
// batch. The counts are the same in any order.
func (s *instStats) grouped(p []instBucket) []instBucket {
	if cap(s.at) < s.n+1 {
		s.at = make([]uint32, s.n+1)
	}
	at := s.at[:s.n+1]
	clear(at)
	for _, b := range p {
		at[b.id+1]++
	}
	for i := 1; i <= s.n; i++ {
		at[i] += at[i-1]
	}
	if cap(s.byInst) < len(p) {
		s.byInst = make([]instBucket, len(p))
	}
	out := s.byInst[:len(p)]
	for _, b := range p {
		out[at[b.id]] = b
		at[b.id]++
	}
	return out
}

// counter returns instance id's counter idx, making its page if it has
// none.
func (s *instStats) counter(id, idx int) *uint32 {
	slot := &s.page[idx/histPage*s.n+id]
	if *slot == 0 {
		if s.npages%chunkPages == 0 {
			s.chunks = append(s.chunks, make([]uint32, chunkPages*histPage))
		}
		s.npages++
		*slot = int32(s.npages)
	}
	return &s.pageOf(*slot)[idx%histPage]
}

// chunkPages is the number of pages made at once (16 KiB).
const chunkPages = 64

// pageOf returns the page of a slot of page.
func (s *instStats) pageOf(slot int32) []uint32 {
	p := int(slot - 1)
	off := p % chunkPages * histPage
	return s.chunks[p/chunkPages][off : off+histPage]
}

// instWindow returns the attempts of instance id in window k.
func (m *metrics) instWindow(id, k int) uint64 { return uint64(m.inst.win[k*m.inst.n+id]) }

// instAttempts returns the attempts of instance id over the run.
func (m *metrics) instAttempts(id int) uint64 {
	var n uint64
	for k := range m.nwin {
		n += m.instWindow(id, k)
	}
	return n
}

// instFailures returns the failed attempts of instance id.
func (m *metrics) instFailures(id int) uint64 { return m.inst.failures[id] }

// instHistogram returns the latency histogram of instance id's attempts
// (nil when it had none), as if every attempt had been recorded in an
// hdr.Histogram of windowHistDigits. It fills h, made by newInstHistogram
// and reused from one instance to the next: a report of 1,000 instances
// makes one histogram, not 1,000.
func (m *metrics) instHistogram(id int, h *hdr.Histogram) *hdr.Histogram {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := &m.inst
	s.countPending()
	h.Reset()
	counted := false
	for idx, c := range s.counts(id) {
		_ = h.RecordValues(s.layout.value(idx), int64(c))
		counted = true
	}
	if !counted {
		return nil // a full counter has a page: no spill either
	}
	for b, c := range s.spill {
		if int(b.id) == id {
			_ = h.RecordValues(s.layout.value(int(b.idx)), int64(c))
		}
	}
	return h
}

// instPercentiles sets out[k] to the qs[k]-th percentile of instance
// id's attempt latencies (0 when it had none), for percentiles qs above 0
// in increasing order: hdr.Histogram's ValueAtQuantile of instHistogram,
// found in one walk of the instance's pages, without building the
// histogram and walking all of its counters (a report of 1,000 instances
// did that 2,000 times). It reports false, and leaves the work to
// instHistogram, when the instance has latencies in the spill.
func (m *metrics) instPercentiles(id int, qs []float64, out []time.Duration) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := &m.inst
	s.countPending()
	for b := range s.spill {
		if int(b.id) == id {
			return false
		}
	}
	var total int64
	for p := range s.perHist {
		if slot := s.page[p*s.n+id]; slot != 0 {
			for _, c := range s.pageOf(slot) {
				total += int64(c)
			}
		}
	}
	clear(out)
	if total == 0 {
		return true
	}
	// As hdr: the first counter at which the count reaches the
	// percentile's, and the highest value it counts (the next counter's
	// lowest, less one); a count of 0 stops hdr's walk before its first
	// counter.
	highest := func(idx int) time.Duration { return time.Duration(s.layout.value(idx+1)-1) * time.Microsecond }
	var want [4]int64
	wants := want[:0]
	if len(qs) > len(want) {
		wants = make([]int64, 0, len(qs))
	}
	for _, q := range qs {
		wants = append(wants, int64(((min(q, 100)/100)*float64(total))+0.5))
	}
	k := 0
	for ; k < len(wants) && wants[k] <= 0; k++ {
		out[k] = highest(0)
	}
	var sum int64
	for p := 0; p < s.perHist && k < len(wants); p++ {
		slot := s.page[p*s.n+id]
		if slot == 0 {
			continue
		}
		for i, c := range s.pageOf(slot) {
			if c == 0 {
				continue
			}
			sum += int64(c)
			for ; k < len(wants) && sum >= wants[k]; k++ {
				out[k] = highest(p*histPage + i)
			}
			if k == len(wants) {
				break
			}
		}
	}
	return true
}

// counts yields instance id's counters that are not zero, in index
// order: the counter's index in the histogram's layout and its count.
// Called under m.mu, once pending latencies are counted.
func (s *instStats) counts(id int) iter.Seq2[int, uint32] {
	return func(yield func(int, uint32) bool) {
		for p := range s.perHist {
			slot := s.page[p*s.n+id]
			if slot == 0 {
				continue
			}
			for i, c := range s.pageOf(slot) {
				if c > 0 && !yield(p*histPage+i, c) {
					return
				}
			}
		}
	}
}

// newInstHistogram returns a histogram for instHistogram.
func (m *metrics) newInstHistogram() *hdr.Histogram { return hdr.New(1, m.highest, windowHistDigits) }

// query selects series and a window range for the report and assertions.
// It is used only after the run, with no recording going on.
type query struct {
	workload, endpoint string
	client             string
	from, to           int // window indexes, to exclusive
}

func (m *metrics) match(q query, s *seriesStats) bool {
	return (q.workload == "" || q.workload == s.workload) && (q.endpoint == "" || q.endpoint == s.endpoint) &&
		(q.client == "" || q.client == s.client)
}

// agg is an aggregate over series and windows.
type agg struct {
	calls, ok, attempts uint64
	hist                *hdr.Histogram
}

// sum aggregates the matching series over windows [q.from, q.to).
func (m *metrics) sum(q query) agg {
	return m.sumOf(m.series, func(s *seriesStats) bool { return m.match(q, s) }, q.from, q.to)
}

// whole aggregates the matching series over the whole run with the
// precise histograms.
func (m *metrics) whole(q query) agg {
	return m.wholeOf(m.series, func(s *seriesStats) bool { return m.match(q, s) })
}

// sumOf aggregates the series of list that match over windows [from, to).
func (m *metrics) sumOf(list []*seriesStats, match func(*seriesStats) bool, from, to int) agg {
	a := agg{}
	for _, s := range list {
		if !match(s) {
			continue
		}
		for w := max(from, 0); w < min(to, m.nwin); w++ {
			ws := &s.win[w]
			a.calls += uint64(ws.calls)
			a.ok += uint64(ws.ok)
			a.attempts += uint64(ws.attempts)
			if ws.hist != nil {
				if a.hist == nil {
					a.hist = hdr.New(1, m.highest, windowHistDigits)
				}
				a.hist.Merge(ws.hist)
			}
		}
	}
	return a
}

// wholeOf aggregates the series of list that match over the whole run
// with the precise histograms.
func (m *metrics) wholeOf(list []*seriesStats, match func(*seriesStats) bool) agg {
	a := agg{hist: hdr.New(1, m.highest, histDigits)}
	for _, s := range list {
		if match(s) {
			a.calls += s.calls
			a.ok += s.ok
			a.attempts += s.attempts
			a.hist.Merge(s.hist)
		}
	}
	return a
}

// percentile returns the q-th percentile of h as a duration (0 when empty).
func percentile(h *hdr.Histogram, q float64) time.Duration {
	if h == nil || h.TotalCount() == 0 {
		return 0
	}
	return time.Duration(h.ValueAtQuantile(q)) * time.Microsecond
}
