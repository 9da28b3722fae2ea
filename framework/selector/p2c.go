package selector

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/microsim/microsim/framework/registry"
)

// Peak EWMA defaults.
const (
	// DefaultEWMADecay is the time constant of P2CPeakEWMA's latency
	// average: an observation's weight falls to 1/e after this long.
	DefaultEWMADecay = 10 * time.Second
	// minEWMACost floors a node's latency estimate, so that nodes whose
	// latency rounds to zero (common in virtual time) still order by the
	// number of requests they have in flight.
	minEWMACost = float64(time.Microsecond)
)

// PeakEWMAConfig configures P2CPeakEWMA. The zero value is the default.
type PeakEWMAConfig struct {
	// Decay is the time constant of the latency average (default
	// DefaultEWMADecay). Between observations a node's estimate decays
	// towards zero at this rate, so a node that stopped getting calls
	// because it was slow is tried again after a while.
	Decay time.Duration
	// DefaultLatency is the estimate of a node that has not answered yet.
	// Zero (the default) means the median estimate of the service's nodes
	// that have, or, while none has, no latency at all (such nodes then
	// order by requests in flight alone).
	DefaultLatency time.Duration
}

// P2CLeastLoaded returns a strategy that draws two distinct nodes at
// random from r and takes the one with fewer requests in flight (the first
// drawn on a tie): power of two choices, which avoids both the herd effect
// of always taking the least loaded node and the imbalance of random picks.
// A retry draws among the nodes the call has not tried.
//
// It learns the requests in flight through LoadFeedback, which the default
// Selector forwards from its Tracker (the client's Begin/done). r is guarded
// by a mutex of the strategy's and must not be used by anything else; a nil
// r is replaced by a PCG seeded from crypto/rand. A pick is O(1) and does
// not allocate (its Pickers are recycled once released). Safe for
// concurrent use; nothing blocks.
func P2CLeastLoaded(r *rand.Rand) Strategy {
	return &p2c{rng: newLockedRand(r)}
}

// P2CPeakEWMA returns a strategy that draws two distinct nodes at random
// from r and takes the one with the lower cost, cost being the node's
// latency estimate times (requests in flight + 1): the Peak EWMA balancer
// of Finagle and Linkerd. The estimate is an exponentially weighted moving
// average of the node's latency, decaying with time constant cfg.Decay, and
// peak-sensitive: a latency above the current estimate replaces it at once,
// so one slow answer is enough to steer calls away, while recovery is
// gradual. A node that has not answered yet is estimated at
// cfg.DefaultLatency or the median of the others, so that a new node is not
// flooded.
//
// Latency comes through LoadFeedback (the default Selector measures it
// between Tracker.Begin and done, with time.Now, so it is virtual in a
// synctest bubble). r is as for P2CLeastLoaded. A pick is O(1) (two
// exponentials) and does not allocate (its Pickers are recycled once
// released). Safe for concurrent use; nothing blocks.
func P2CPeakEWMA(r *rand.Rand, cfg PeakEWMAConfig) Strategy {
	if cfg.Decay <= 0 {
		cfg.Decay = DefaultEWMADecay
	}
	if cfg.DefaultLatency < 0 {
		cfg.DefaultLatency = 0
	}
	return &p2c{rng: newLockedRand(r), peak: true, tau: float64(cfg.Decay), defaultCost: float64(cfg.DefaultLatency)}
}

// p2c is both power-of-two-choices strategies; peak selects the cost.
type p2c struct {
	rng         *lockedRand
	peak        bool
	tau         float64 // ns
	defaultCost float64 // ns; 0: the median of the others
	services    perService[loadTable]
	picks       pickerPool[p2cPick]
}

// Pick implements Strategy.
func (s *p2c) Pick(service string, nodes []*registry.Node) Picker {
	p := s.picks.get()
	p.s, p.service, p.nodes, p.loads = s, service, nodes, nil
	p.tried.reset(len(nodes))
	if len(nodes) > 0 {
		p.loads = s.services.get(service)
	}
	return p
}

// Begin implements LoadFeedback.
func (s *p2c) Begin(service string, node *registry.Node) {
	if node == nil {
		return
	}
	s.services.get(service).node(node.ID).inflight.Add(1)
}

// End implements LoadFeedback.
func (s *p2c) End(service string, node *registry.Node, at time.Time, latency time.Duration, _ error) {
	if node == nil {
		return
	}
	t := s.services.get(service)
	l := t.lookup(node.ID)
	if l != nil {
		l.inflight.Add(-1)
	} else {
		l = t.node(node.ID) // swept while in flight (idle for a minute first)
	}
	first := false
	if s.peak {
		first = l.observe(at, float64(max(latency, 0)), s.tau)
	} else {
		l.lastEnd.Store(at.UnixNano())
	}
	t.housekeep(at, first, s.peak, s.defaultCost, s.tau)
}

type p2cPick struct {
	s       *p2c
	service string
	nodes   []*registry.Node
	loads   *loadTable
	tried   triedSet
}

// Release implements Picker.
func (p *p2cPick) Release() {
	s := p.s
	p.s, p.service, p.nodes, p.loads = nil, "", nil, nil
	s.picks.put(p)
}

// Next implements Picker.
func (p *p2cPick) Next() (*registry.Node, error) {
	n := len(p.nodes)
	if p.tried.count >= n {
		return nil, exhausted(p.service, n)
	}
	i, j := untriedPair(p.s.rng, &p.tried)
	if j >= 0 {
		var now time.Time
		if p.s.peak {
			now = time.Now()
		}
		if p.cost(j, now) < p.cost(i, now) {
			i = j
		}
	}
	p.tried.add(i)
	return p.nodes[i], nil
}

// cost is the load of node i: requests in flight, or for Peak EWMA the
// decayed estimate times (in flight + 1).
func (p *p2cPick) cost(i int, now time.Time) float64 {
	l := p.loads.lookup(p.nodes[i].ID)
	if l == nil { // never seen: nothing in flight, the default estimate
		if !p.s.peak {
			return 0
		}
		return max(p.loads.defaultEstimate(p.s.defaultCost), minEWMACost)
	}
	inflight := float64(max(l.inflight.Load(), 0))
	if !p.s.peak {
		return inflight
	}
	est := l.estimate(now, p.s.tau)
	if est < 0 {
		est = p.loads.defaultEstimate(p.s.defaultCost)
	}
	return max(est, minEWMACost) * (inflight + 1)
}

// decay is the weight that remains of an estimate after elapsed ns.
func decay(elapsed, tau float64) float64 {
	if elapsed <= 0 {
		return 1
	}
	return math.Exp(-elapsed / tau)
}
