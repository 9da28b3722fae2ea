package selector

import (
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/microsim/microsim/framework/registry"
)

// The strategies here return a Picker that belongs to one call: it tracks
// the nodes that call has tried and is not safe for concurrent use. Each
// strategy recycles its Pickers once released (pickerPool), so that a pick
// allocates nothing in steady state.

// Feedback is implemented by strategies that learn from outcomes. The
// default Selector forwards every Mark, and the end of every attempt tracked
// with Tracker, to its default strategy when that strategy implements
// Feedback. Mark must not block.
type Feedback interface {
	Mark(service string, node *registry.Node, err error)
}

// LoadFeedback is implemented by strategies that balance on load
// (P2CLeastLoaded, P2CPeakEWMA). The default Selector, as a Tracker,
// forwards each attempt's Begin and End to its default strategy when that
// strategy implements LoadFeedback: Begin when the attempt starts, End
// exactly once when it ends, with the time it ended (time.Now, virtual in a
// synctest bubble), the latency the selector measured and the outcome (nil:
// success). A strategy given per call (WithStrategy) gets no feedback.
// Neither method may block; both must be safe for concurrent use.
//
// Mark alone (a client that does not use Tracker) reaches Feedback only:
// load-aware strategies then see no load and pick like Random.
type LoadFeedback interface {
	Begin(service string, node *registry.Node)
	End(service string, node *registry.Node, at time.Time, latency time.Duration, err error)
}

// KeyPicker is implemented by strategies that route on a request key
// (ConsistentHash). The default Selector calls PickKey instead of Pick when
// the call has a key (WithHashKey) and the strategy implements KeyPicker.
type KeyPicker interface {
	PickKey(service, key string, nodes []*registry.Node) Picker
}

// RoundRobin returns a strategy that rotates over the nodes of each service
// in the order of their IDs. The rotation is shared by all calls to a
// service: successive calls start at successive nodes. A call's retries
// walk on from its own start, skipping nodes the call already tried, without
// advancing the shared rotation: if retries took rotation positions, a dead
// node followed by a retry would shift every later call by two and, with two
// nodes, the dead one would be every call's first choice. With n nodes and k
// calls every node is the first choice of k/n calls, rounded up or down.
//
// Pick does not allocate (its Pickers are recycled once released) when
// nodes are already sorted by ID (the default Selector passes them so);
// otherwise it sorts a copy. It
// remembers the last slice it found sorted for each service and does not
// check that same slice again, so callers must not reorder a slice they
// passed to Pick. The strategy is safe for concurrent use; nothing in it
// blocks.
func RoundRobin() Strategy { return &roundRobin{} }

type roundRobin struct {
	services perService[rrService]
	picks    pickerPool[rrPick]
}

// rrService is the round-robin state of one service.
type rrService struct {
	ctr atomic.Uint64 // the rotation: positions handed out so far
	// The last node slice found sorted. The default Selector passes the
	// same slice until its cache changes, so the O(n) check runs once per
	// change rather than once per call.
	sorted atomic.Pointer[sliceMark]
}

// sliceMark identifies a slice by the address of its first element and its
// length.
type sliceMark struct {
	head **registry.Node
	n    int
}

// Pick implements Strategy.
func (rr *roundRobin) Pick(service string, nodes []*registry.Node) Picker {
	st := rr.services.get(service)
	if len(nodes) > 0 {
		if m := st.sorted.Load(); m == nil || m.head != &nodes[0] || m.n != len(nodes) {
			if slices.IsSortedFunc(nodes, compareNodes) {
				st.sorted.Store(&sliceMark{head: &nodes[0], n: len(nodes)})
			} else {
				nodes = slices.Clone(nodes)
				slices.SortStableFunc(nodes, compareNodes)
			}
		}
	}
	p := rr.picks.get()
	p.rr, p.service, p.nodes, p.ctr, p.last = rr, service, nodes, &st.ctr, 0
	p.tried.reset(len(nodes))
	return p
}

type rrPick struct {
	rr      *roundRobin
	service string
	nodes   []*registry.Node
	ctr     *atomic.Uint64
	tried   triedSet
	last    int // the index this call tried last
}

// Release implements Picker.
func (p *rrPick) Release() {
	rr := p.rr
	p.rr, p.service, p.nodes, p.ctr = nil, "", nil, nil
	rr.picks.put(p)
}

// Next implements Picker.
func (p *rrPick) Next() (*registry.Node, error) {
	n := len(p.nodes)
	if p.tried.count >= n {
		return nil, exhausted(p.service, n)
	}
	var i int
	if p.tried.count == 0 {
		i = int((p.ctr.Add(1) - 1) % uint64(n))
	} else if i = p.last + 1; i == n {
		i = 0
	}
	for p.tried.has(i) {
		if i++; i == n {
			i = 0
		}
	}
	p.tried.add(i)
	p.last = i
	return p.nodes[i], nil
}

// Random returns a strategy that picks uniformly at random from r: a call's
// first attempt among all nodes, each retry among the nodes the call has not
// tried yet. r is guarded by a mutex, so the strategy is safe for concurrent
// use, but r must not be used by anything else. A nil r is replaced by a PCG
// seeded from crypto/rand (not reproducible). Pick does not allocate (its
// Pickers are recycled once released); nothing in it blocks.
func Random(r *rand.Rand) Strategy {
	if r == nil {
		r = cryptoSeeded()
	}
	return &random{r: r}
}

type random struct {
	mu    sync.Mutex
	r     *rand.Rand
	picks pickerPool[randomPick]
}

func (s *random) intN(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r.IntN(n)
}

// Pick implements Strategy.
func (s *random) Pick(service string, nodes []*registry.Node) Picker {
	p := s.picks.get()
	p.s, p.service, p.nodes = s, service, nodes
	p.tried.reset(len(nodes))
	return p
}

type randomPick struct {
	s       *random
	service string
	nodes   []*registry.Node
	tried   triedSet
}

// Release implements Picker.
func (p *randomPick) Release() {
	s := p.s
	p.s, p.service, p.nodes = nil, "", nil
	s.picks.put(p)
}

// Next implements Picker.
func (p *randomPick) Next() (*registry.Node, error) {
	n := len(p.nodes)
	left := n - p.tried.count
	if left <= 0 {
		return nil, exhausted(p.service, n)
	}
	k := p.s.intN(left)
	i := 0
	if p.tried.count > 0 {
		// Find the k-th untried index.
		for ; ; i++ {
			if p.tried.has(i) {
				continue
			}
			if k == 0 {
				break
			}
			k--
		}
	} else {
		i = k
	}
	p.tried.add(i)
	return p.nodes[i], nil
}
