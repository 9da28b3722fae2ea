package selector

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Load table housekeeping.
const (
	// loadSweepEvery is how often (at most) End sweeps a service's load
	// table for nodes that have been idle for loadIdleTTL (or ten decay
	// time constants, if longer): nodes that left keep no memory forever.
	loadSweepEvery = 10 * time.Second
	loadIdleTTL    = time.Minute
	// medianEvery is how often (at most) End recomputes the median
	// estimate that stands in for nodes not observed yet.
	medianEvery = time.Second
)

// loadTable is the load state of one service's nodes, for the power of two
// choices strategies. Its zero value is ready.
type loadTable struct {
	mu    sync.RWMutex
	nodes map[string]*nodeLoad

	// The median estimate of the observed nodes (ns, float64 bits) and
	// whether there is one; refreshed by End.
	median    atomic.Uint64
	hasMedian atomic.Bool
	medianAt  atomic.Int64 // UnixNano of the last refresh
	sweptAt   atomic.Int64 // UnixNano of the last sweep
	scratch   []float64    // guarded by mu (write)
}

// nodeLoad is one node's load: requests in flight and the latency estimate.
type nodeLoad struct {
	inflight atomic.Int64
	mu       sync.Mutex    // serializes observe
	cost     atomic.Uint64 // the estimate at stamp: ns, float64 bits
	stamp    atomic.Int64  // UnixNano of the last observation; 0: none yet
	lastEnd  atomic.Int64  // UnixNano of the last End
}

// lookup returns the node's load, or nil if the table has none.
func (t *loadTable) lookup(id string) *nodeLoad {
	t.mu.RLock()
	l := t.nodes[id]
	t.mu.RUnlock()
	return l
}

// node returns the node's load, creating it on first use.
func (t *loadTable) node(id string) *nodeLoad {
	if l := t.lookup(id); l != nil {
		return l
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.nodes[id]
	if l == nil {
		if t.nodes == nil {
			t.nodes = make(map[string]*nodeLoad)
		}
		l = &nodeLoad{}
		t.nodes[id] = l
	}
	return l
}

// estimate returns the node's decayed latency estimate at now, or -1 if it
// has not been observed.
func (l *nodeLoad) estimate(now time.Time, tau float64) float64 {
	stamp := l.stamp.Load()
	if stamp == 0 {
		return -1
	}
	return math.Float64frombits(l.cost.Load()) * decay(float64(now.UnixNano()-stamp), tau)
}

// observe folds the latency rtt (ns) observed at now into the estimate and
// reports whether it was the node's first observation. A latency above the
// decayed estimate replaces it (peak); otherwise the two are averaged with
// the weight decay gives the estimate.
func (l *nodeLoad) observe(now time.Time, rtt, tau float64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := now.UnixNano()
	if t == 0 {
		t = 1 // 0 means "never observed"
	}
	l.lastEnd.Store(t)
	stamp := l.stamp.Load()
	cost := rtt
	if stamp != 0 {
		w := decay(float64(t-stamp), tau)
		if old := math.Float64frombits(l.cost.Load()) * w; rtt <= old {
			cost = old + rtt*(1-w)
		}
	}
	l.cost.Store(math.Float64bits(cost))
	l.stamp.Store(t)
	return stamp == 0
}

// defaultEstimate is the estimate of a node not observed yet: def if set,
// else the median of the observed nodes, else 0.
func (t *loadTable) defaultEstimate(def float64) float64 {
	if def > 0 {
		return def
	}
	if t.hasMedian.Load() {
		return math.Float64frombits(t.median.Load())
	}
	return 0
}

// housekeep recomputes the median estimate (Peak EWMA without a default
// latency) when a node was observed for the first time or medianEvery has
// passed, and sweeps idle nodes every loadSweepEvery. Both are O(n) (the
// median O(n log n)) under the table's lock, amortized over many calls.
func (t *loadTable) housekeep(now time.Time, first, peak bool, def, tau float64) {
	nowNs := now.UnixNano()
	refresh := peak && def <= 0 && (first || nowNs-t.medianAt.Load() >= int64(medianEvery))
	sweep := nowNs-t.sweptAt.Load() >= int64(loadSweepEvery)
	if !refresh && !sweep {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if sweep {
		t.sweptAt.Store(nowNs)
		idle := max(int64(loadIdleTTL), int64(10*tau))
		for id, l := range t.nodes {
			if l.inflight.Load() <= 0 && nowNs-l.lastEnd.Load() > idle {
				delete(t.nodes, id)
			}
		}
	}
	if !refresh {
		return
	}
	t.medianAt.Store(nowNs)
	t.scratch = t.scratch[:0]
	for _, l := range t.nodes {
		if e := l.estimate(now, tau); e >= 0 {
			t.scratch = append(t.scratch, e)
		}
	}
	if len(t.scratch) == 0 {
		return
	}
	slices.Sort(t.scratch)
	m := t.scratch[len(t.scratch)/2]
	if len(t.scratch)%2 == 0 {
		m = (m + t.scratch[len(t.scratch)/2-1]) / 2
	}
	t.median.Store(math.Float64bits(m))
	t.hasMedian.Store(true)
}
