package selector

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/microsim/microsim/framework/registry"
)

const (
	// statsEWMAAlpha is the weight of each attempt's latency in the
	// latency average NodeStats reports.
	statsEWMAAlpha = 0.1
	// probeRetryDelay is how long Selects stop trying to claim a due probe
	// after one found that its filters leave out every due node.
	probeRetryDelay = time.Second
)

// Node health states.
const (
	stateHealthy uint32 = iota
	stateEjected        // ejected until its until; then probe-eligible
	stateProbing        // one probe sent (or claimed); outcome pending
)

// svcHealth is the per-node state of one cached service: counters and
// outlier detection. It lives as long as the service stays cached (entries
// replaced by events share it). Lock order: defaultSelector.mu, then mu,
// then a nodeState's mu.
type svcHealth struct {
	mu    sync.RWMutex
	nodes map[string]*nodeState // by node ID; created on a node's first attempt
	// byNode holds the states of nodes by the cached entry's *Node, so
	// that an attempt finds its node's without reading the node's ID (to
	// hash and compare it), out of the CPU's cache when the service has
	// many nodes; rebuilt when the entry changes (resizeLocked). A node of
	// an older entry is found by its ID, and added.
	byNode map[*registry.Node]*nodeState
	size   int // nodes of the service in the cache
	// excluded are the nodes ejected or probing, which Select skips.
	excluded []*nodeState

	// Lock-free copies for Select: len(excluded), a generation that changes
	// with the excluded set, and when the first excluded node may be
	// probed (UnixNano).
	nExcluded atomic.Int32
	gen       atomic.Uint64
	probeAt   atomic.Int64
}

// nodeState is one node's counters and health.
type nodeState struct {
	id      string
	address string // guarded by svcHealth.mu

	requests, successes, failures, nodeFailures atomic.Uint64
	inflight                                    atomic.Int64
	state                                       atomic.Uint32 // written under svcHealth.mu

	// Guarded by mu: the latency average and the failure counters.
	mu          sync.Mutex
	latency     float64 // ns; statsEWMAAlpha-weighted
	hasLatency  bool
	consecutive int       // node failures in a row
	winStart    time.Time // the success-rate window
	winTotal    int
	winOK       int

	// Guarded by svcHealth.mu: the ejection record.
	ejections    uint64
	mult         int       // the multiplier of the last ejection
	until        time.Time // ejected: end of ejection; probing: probe given up
	healthySince time.Time // when the last ejection ended
	probeSeq     uint64    // identifies the current probe
	probeBegun   bool
}

func newSvcHealth() *svcHealth {
	return &svcHealth{nodes: make(map[string]*nodeState), byNode: make(map[*registry.Node]*nodeState)}
}

// nodeFor returns the state of node in the cached service, creating it on
// the node's first attempt; it returns nils if the service is not cached
// or the node is not (or no longer) one of its nodes. It does not block.
func (s *defaultSelector) nodeFor(service string, node *registry.Node) (*svcHealth, *nodeState) {
	s.mu.RLock()
	e := s.cache[service]
	s.mu.RUnlock()
	if e == nil {
		return nil, nil
	}
	h := e.health
	h.mu.RLock()
	ns := h.byNode[node]
	h.mu.RUnlock()
	if ns != nil {
		return h, ns
	}
	// By its ID: a node of an older entry, or one without a state yet.
	h.mu.Lock()
	defer h.mu.Unlock()
	if ns = h.nodes[node.ID]; ns == nil {
		if !e.has(node.ID) {
			return nil, nil
		}
		ns = &nodeState{id: node.ID, address: node.Address}
		h.nodes[node.ID] = ns
	}
	h.byNode[node] = ns
	return h, ns
}

// resizeLocked records that the service's cached entry is now e: it drops
// the states of nodes that left (re-admitting them if excluded) and notes
// the node count the ejection cap is taken of. Called with s.mu held.
func (h *svcHealth) resizeLocked(e *entry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.size = len(e.nodes)
	clear(h.byNode)
	for id, ns := range h.nodes {
		if n := findNode(e.nodes, id); n != nil {
			ns.address = n.Address
			h.byNode[n] = ns
			continue
		}
		delete(h.nodes, id)
		if i := slices.Index(h.excluded, ns); i >= 0 {
			h.excluded = slices.Delete(h.excluded, i, i+1)
			h.excludedChangedLocked(true)
		}
	}
}

// record counts an attempt's outcome for ns and runs outlier detection.
// latency is the attempt's duration when tracked (Begin/done), else
// ignored; probe and seq identify a tracked probe. It does not block.
func (s *defaultSelector) record(h *svcHealth, ns *nodeState, now time.Time, err error, latency time.Duration, tracked, probe bool, seq uint64) {
	o := s.cfg.outlier
	v := verdictOK
	switch {
	case o != nil:
		v = o.judge(err)
	case err != nil && IsNodeFailure(err):
		v = verdictFail
	case isCancel(err):
		v = verdictNone
	}
	if err == nil {
		ns.successes.Add(1)
	} else {
		ns.failures.Add(1)
	}
	if v == verdictFail {
		ns.nodeFailures.Add(1)
	}

	eject := false
	ns.mu.Lock()
	if tracked {
		if lat := float64(max(latency, 0)); ns.hasLatency {
			ns.latency += statsEWMAAlpha * (lat - ns.latency)
		} else {
			ns.latency, ns.hasLatency = lat, true
		}
	}
	if o != nil && v != verdictNone && ns.state.Load() == stateHealthy {
		eject = ns.countLocked(o, now, v == verdictFail)
	}
	ns.mu.Unlock()

	if o == nil {
		return
	}
	switch ns.state.Load() {
	case stateHealthy:
		if eject {
			h.mu.Lock()
			if ns.state.Load() == stateHealthy {
				h.ejectLocked(o, ns, now)
			}
			h.mu.Unlock()
		}
	case stateProbing:
		// A tracked outcome settles the probe only if it is the probe's;
		// Mark cannot tell, so any outcome settles it.
		if !tracked || probe {
			h.mu.Lock()
			if ns.state.Load() == stateProbing && (!tracked || seq == ns.probeSeq) {
				h.settleProbeLocked(o, ns, now, v)
			}
			h.mu.Unlock()
		}
	}
	// stateEjected: late outcomes of attempts begun before the ejection
	// say nothing new.
}

// countLocked updates ns's failure counters with one outcome and reports
// whether they call for an ejection. Called with ns.mu held.
func (ns *nodeState) countLocked(o *OutlierConfig, now time.Time, failed bool) bool {
	if failed {
		ns.consecutive++
	} else {
		ns.consecutive = 0
	}
	if o.SuccessRateThreshold > 0 {
		if ns.winStart.IsZero() || now.Sub(ns.winStart) >= o.SuccessRateWindow {
			ns.winStart, ns.winTotal, ns.winOK = now, 0, 0
		}
		ns.winTotal++
		if !failed {
			ns.winOK++
		}
		if ns.winTotal >= o.SuccessRateMinRequests && float64(ns.winOK) < o.SuccessRateThreshold*float64(ns.winTotal) {
			return true
		}
	}
	return o.ConsecutiveFailures > 0 && ns.consecutive >= o.ConsecutiveFailures
}

// ejectLocked ejects ns (healthy or probing) unless the cap forbids it,
// and reports whether it did. Called with h.mu held.
func (h *svcHealth) ejectLocked(o *OutlierConfig, ns *nodeState, now time.Time) bool {
	probing := ns.state.Load() == stateProbing
	if !probing && len(h.excluded) >= h.size*o.MaxEjectedPercent/100 {
		return false
	}
	if !ns.healthySince.IsZero() && !probing {
		ns.mult -= int(now.Sub(ns.healthySince) / o.BaseEjectionTime)
	}
	ns.mult = max(ns.mult, 0) + 1
	ns.ejections++
	ns.until = now.Add(o.ejectionTime(ns.mult))
	ns.state.Store(stateEjected)
	ns.mu.Lock()
	ns.consecutive, ns.winStart, ns.winTotal, ns.winOK = 0, time.Time{}, 0, 0
	ns.mu.Unlock()
	if !probing {
		h.excluded = append(h.excluded, ns)
	}
	h.excludedChangedLocked(!probing)
	return true
}

// settleProbeLocked ends ns's probe with verdict v. Called with h.mu held.
func (h *svcHealth) settleProbeLocked(o *OutlierConfig, ns *nodeState, now time.Time, v verdict) {
	switch v {
	case verdictOK:
		ns.state.Store(stateHealthy)
		ns.healthySince = now
		h.excluded = slices.DeleteFunc(h.excluded, func(x *nodeState) bool { return x == ns })
		h.excludedChangedLocked(true)
	case verdictFail:
		h.ejectLocked(o, ns, now)
	default: // cancelled: probe again at once
		ns.state.Store(stateEjected)
		ns.until = now
		h.excludedChangedLocked(false)
	}
}

// excludedChangedLocked refreshes the lock-free copies after a change of
// the excluded nodes (set: the set itself changed) or of their times.
// Called with h.mu held.
func (h *svcHealth) excludedChangedLocked(set bool) {
	h.nExcluded.Store(int32(len(h.excluded)))
	if set {
		h.gen.Add(1)
	}
	var first time.Time
	for _, ns := range h.excluded {
		if first.IsZero() || ns.until.Before(first) {
			first = ns.until
		}
	}
	if first.IsZero() {
		h.probeAt.Store(0)
	} else {
		h.probeAt.Store(max(first.UnixNano(), 1))
	}
}

// claimProbe picks the excluded node whose ejection (or unanswered probe)
// ended first among those member accepts, marks it probing and returns its
// ID; "" if none is due. When some are due but member accepts none of them
// (this call's filters leave them out), the next attempt to claim one is
// put off by probeRetryDelay, so that such calls do not all take the lock.
// It does not block.
func (h *svcHealth) claimProbe(o *OutlierConfig, now time.Time, member func(id string) bool) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var best *nodeState
	due := false
	for _, ns := range h.excluded {
		if ns.until.After(now) {
			continue
		}
		due = true
		if (best == nil || ns.until.Before(best.until)) && member(ns.id) {
			best = ns
		}
	}
	if best == nil {
		if due {
			next := now.Add(probeRetryDelay).UnixNano()
			for _, ns := range h.excluded {
				if ns.until.After(now) {
					next = min(next, ns.until.UnixNano())
				}
			}
			h.probeAt.Store(next)
		}
		return ""
	}
	best.state.Store(stateProbing)
	best.probeSeq++
	best.probeBegun = false
	best.until = now.Add(o.BaseEjectionTime)
	h.excludedChangedLocked(false)
	return best.id
}

// beginProbe marks the first attempt on a probing node as its probe and
// returns the probe's sequence number.
func (h *svcHealth) beginProbe(ns *nodeState) (bool, uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ns.state.Load() != stateProbing || ns.probeBegun {
		return false, 0
	}
	ns.probeBegun = true
	return true, ns.probeSeq
}
