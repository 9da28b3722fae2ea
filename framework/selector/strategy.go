package selector

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/microsim/microsim/framework/registry"
)

// The strategies here return a Next that belongs to one call: it tracks the
// nodes that call has tried and is not safe for concurrent use.

// Feedback is implemented by strategies that learn from outcomes. The
// default Selector forwards every Mark to its default strategy when that
// strategy implements Feedback. Mark must not block.
type Feedback interface {
	Mark(service string, node *registry.Node, err error)
}

// RoundRobin returns a strategy that rotates over the nodes of each service
// in the order of their IDs. The rotation is shared by all calls to a
// service: successive calls start at successive nodes, and a call's retries
// take the next positions of the same rotation, skipping nodes the call
// already tried. With n nodes and k single-attempt calls every node gets
// k/n calls, rounded up or down.
//
// Pick does not allocate beyond its Next when nodes are already sorted by
// ID (the default Selector passes them so); otherwise it sorts a copy. It
// remembers the last slice it found sorted for each service and does not
// check that same slice again, so callers must not reorder a slice they
// passed to Pick. The strategy is safe for concurrent use; nothing in it
// blocks.
func RoundRobin() Strategy {
	return &roundRobin{services: make(map[string]*rrService)}
}

type roundRobin struct {
	mu       sync.Mutex
	services map[string]*rrService
}

// rrService is the round-robin state of one service.
type rrService struct {
	ctr atomic.Uint64 // the rotation: positions handed out so far
	// The last node slice found sorted (guarded by roundRobin.mu), by the
	// address of its first element and its length. The default Selector
	// passes the same slice until its cache changes, so the O(n) check runs
	// once per change rather than once per call.
	sortedHead **registry.Node
	sortedLen  int
}

// Pick implements Strategy.
func (rr *roundRobin) Pick(service string, nodes []*registry.Node) Next {
	rr.mu.Lock()
	st, ok := rr.services[service]
	if !ok {
		st = new(rrService)
		rr.services[service] = st
	}
	known := len(nodes) > 0 && st.sortedHead == &nodes[0] && st.sortedLen == len(nodes)
	rr.mu.Unlock()
	switch {
	case known || len(nodes) == 0:
	case slices.IsSortedFunc(nodes, compareNodes):
		rr.mu.Lock()
		st.sortedHead, st.sortedLen = &nodes[0], len(nodes)
		rr.mu.Unlock()
	default:
		nodes = slices.Clone(nodes)
		slices.SortStableFunc(nodes, compareNodes)
	}
	p := &rrPick{service: service, nodes: nodes, ctr: &st.ctr}
	p.tried.n = len(nodes)
	return p.next
}

type rrPick struct {
	service string
	nodes   []*registry.Node
	ctr     *atomic.Uint64
	tried   triedSet
}

func (p *rrPick) next() (*registry.Node, error) {
	n := len(p.nodes)
	if p.tried.count >= n {
		return nil, exhausted(p.service, n)
	}
	i := int((p.ctr.Add(1) - 1) % uint64(n))
	for p.tried.has(i) {
		if i++; i == n {
			i = 0
		}
	}
	p.tried.add(i)
	return p.nodes[i], nil
}

// Random returns a strategy that picks uniformly at random from r: a call's
// first attempt among all nodes, each retry among the nodes the call has not
// tried yet. r is guarded by a mutex, so the strategy is safe for concurrent
// use, but r must not be used by anything else. A nil r is replaced by a PCG
// seeded from crypto/rand (not reproducible). Pick does not allocate beyond
// its Next; nothing in it blocks.
func Random(r *rand.Rand) Strategy {
	if r == nil {
		r = cryptoSeeded()
	}
	return &random{r: r}
}

type random struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (s *random) intN(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r.IntN(n)
}

// Pick implements Strategy.
func (s *random) Pick(service string, nodes []*registry.Node) Next {
	p := &randomPick{s: s, service: service, nodes: nodes}
	p.tried.n = len(nodes)
	return p.next
}

type randomPick struct {
	s       *random
	service string
	nodes   []*registry.Node
	tried   triedSet
}

func (p *randomPick) next() (*registry.Node, error) {
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

// exhausted is the error of a Next whose nodes have all been tried.
func exhausted(service string, n int) error {
	if n == 0 {
		return fmt.Errorf("%w: service %q has no nodes", ErrNoneAvailable, service)
	}
	return fmt.Errorf("%w: service %q: all %d nodes tried", ErrNoneAvailable, service, n)
}

func compareNodes(a, b *registry.Node) int { return cmp.Compare(a.ID, b.ID) }

// triedSet records which node indexes a call has tried. Up to 64 nodes it
// lives in a word; beyond, the bitmap is allocated on the second attempt,
// so a call that succeeds first time allocates nothing for it.
type triedSet struct {
	n     int // number of nodes
	count int // number tried
	first int // the first index tried, while big is nil
	small uint64
	big   []uint64
}

func (t *triedSet) has(i int) bool {
	switch {
	case t.n <= 64:
		return t.small&(1<<uint(i)) != 0
	case t.big == nil:
		return t.count > 0 && t.first == i
	}
	return t.big[i/64]&(1<<uint(i%64)) != 0
}

func (t *triedSet) add(i int) {
	t.count++
	switch {
	case t.n <= 64:
		t.small |= 1 << uint(i)
		return
	case t.count == 1:
		t.first = i
		return
	case t.big == nil:
		t.big = make([]uint64, (t.n+63)/64)
		t.big[t.first/64] |= 1 << uint(t.first%64)
	}
	t.big[i/64] |= 1 << uint(i%64)
}
