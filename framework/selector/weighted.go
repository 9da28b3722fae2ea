package selector

import (
	"strconv"
	"sync/atomic"

	"github.com/microsim/microsim/framework/registry"
)

// Node weights for WeightedRoundRobin.
const (
	// WeightKey is the node metadata key WeightedRoundRobin reads a node's
	// weight from: a decimal integer. A node without it, or with a value
	// that is not an integer of at least 1, has weight 1.
	WeightKey = "weight"
	// MaxWeight is the largest weight WeightedRoundRobin honours; larger
	// values count as MaxWeight. It bounds the schedule WeightedRoundRobin
	// builds per node set: one entry per unit of weight (after dividing the
	// weights by their greatest common divisor).
	MaxWeight = 1000
)

// NodeWeight returns node's weight as WeightedRoundRobin reads it from its
// metadata (WeightKey): 1 if absent or invalid, at most MaxWeight. It does
// not block.
func NodeWeight(node *registry.Node) int {
	v, ok := node.Metadata[WeightKey]
	if !ok {
		return 1
	}
	w, err := strconv.Atoi(v)
	switch {
	case err != nil || w < 1:
		return 1
	case w > MaxWeight:
		return MaxWeight
	}
	return w
}

// WeightedRoundRobin returns a strategy that gives each node a share of the
// calls to its service proportional to its weight (NodeWeight: metadata
// "weight", default 1), in a smooth order: like nginx's smooth weighted
// round robin, a heavy node's turns are spread through the cycle rather
// than bunched (weights 1:2:3 give c b a c b c, not c c c b b a). Over every
// full cycle of W calls, W being the sum of the weights divided by their
// greatest common divisor, each node gets exactly its share.
//
// The rotation is shared by all calls to a service, like RoundRobin's; a
// call's retries take the next positions of the rotation, skipping nodes
// the call has tried. The schedule (W entries) is built once per node set,
// in O(W log n); a pick is O(1) and does not allocate (its Pickers are
// recycled once released). Safe
// for concurrent use; nothing in it blocks.
func WeightedRoundRobin() Strategy { return &weightedRR{} }

type weightedRR struct {
	services perService[wrrService]
	picks    pickerPool[wrrPick]
}

type wrrService struct {
	ctr   atomic.Uint64 // positions handed out so far
	sched setCache[[]uint32]
}

// Pick implements Strategy.
func (w *weightedRR) Pick(service string, nodes []*registry.Node) Picker {
	p := w.picks.get()
	p.w, p.service, p.nodes = w, service, nodes
	p.tried.reset(len(nodes))
	if len(nodes) > 0 {
		st := w.services.get(service)
		p.ctr = &st.ctr
		p.order = *st.sched.get(nodes, weightFingerprint, buildSchedule)
	}
	return p
}

type wrrPick struct {
	w       *weightedRR
	service string
	nodes   []*registry.Node
	order   []uint32 // the schedule: indexes into nodes
	ctr     *atomic.Uint64
	tried   triedSet
}

// Release implements Picker.
func (p *wrrPick) Release() {
	w := p.w
	p.w, p.service, p.nodes, p.order, p.ctr = nil, "", nil, nil, nil
	w.picks.put(p)
}

// Next implements Picker.
func (p *wrrPick) Next() (*registry.Node, error) {
	n := len(p.nodes)
	if p.tried.count >= n {
		return nil, exhausted(p.service, n)
	}
	pos := (p.ctr.Add(1) - 1) % uint64(len(p.order))
	i := int(p.order[pos])
	// A retry walks on through the schedule to a node not yet tried;
	// every node is in the schedule, so a full turn finds one.
	for steps := 0; p.tried.has(i); steps++ {
		if steps >= len(p.order) {
			panic("selector: weighted schedule lacks an untried node")
		}
		if pos++; pos == uint64(len(p.order)) {
			pos = 0
		}
		i = int(p.order[pos])
	}
	p.tried.add(i)
	return p.nodes[i], nil
}

// weightFingerprint covers the node IDs and their weights.
func weightFingerprint(nodes []*registry.Node) uint64 {
	h := idFingerprint(nodes)
	for _, n := range nodes {
		h = fnvUint(h, uint64(NodeWeight(n)))
	}
	return h
}

// buildSchedule returns the smooth weighted order of nodes: node i's k-th
// turn (k = 0, 1, ...) is due at (k + 1/2) / w_i of the cycle, and turns
// are taken in order of due time, ties going to the lighter node and then
// to the lower index. This is stride scheduling with half-step offsets
// (Sainte-Laguë), which interleaves like nginx's smooth weighted round
// robin (for 1:2:3 it gives nginx's very sequence, c b a c b c). It costs
// O(W log n) with a binary heap.
func buildSchedule(nodes []*registry.Node) *[]uint32 {
	weights := make([]uint64, len(nodes))
	g := uint64(0)
	for i, n := range nodes {
		weights[i] = uint64(NodeWeight(n))
		g = gcd(g, weights[i])
	}
	total := uint64(0)
	for i := range weights {
		weights[i] /= g
		total += weights[i]
	}
	h := turnHeap{weights: weights, turns: make([]uint64, len(nodes)), idx: make([]uint32, len(nodes))}
	for i := range h.idx {
		h.idx[i] = uint32(i)
	}
	for i := len(h.idx)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
	order := make([]uint32, total)
	for k := range order {
		i := h.idx[0]
		order[k] = i
		h.turns[i]++
		h.down(0)
	}
	return &order
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// turnHeap is a min-heap of node indexes by the due time of their next turn.
type turnHeap struct {
	weights []uint64
	turns   []uint64 // turns taken so far
	idx     []uint32 // the heap
}

// less reports whether a's next turn comes before b's: (2*turns_a+1)/w_a
// < (2*turns_b+1)/w_b, compared without division.
func (h *turnHeap) less(a, b uint32) bool {
	da := (2*h.turns[a] + 1) * h.weights[b]
	db := (2*h.turns[b] + 1) * h.weights[a]
	switch {
	case da != db:
		return da < db
	case h.weights[a] != h.weights[b]:
		return h.weights[a] < h.weights[b]
	}
	return a < b
}

func (h *turnHeap) down(i int) {
	n := len(h.idx)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(h.idx[r], h.idx[l]) {
			m = r
		}
		if !h.less(h.idx[m], h.idx[i]) {
			return
		}
		h.idx[i], h.idx[m] = h.idx[m], h.idx[i]
		i = m
	}
}
