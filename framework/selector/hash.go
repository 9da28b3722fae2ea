package selector

import (
	"cmp"
	"math/rand/v2"
	"slices"

	"github.com/microsim/microsim/framework/registry"
)

// DefaultVirtualNodes is how many points ConsistentHash puts on its ring
// for each node.
const DefaultVirtualNodes = 100

// HashConfig configures ConsistentHash. The zero value is the default.
type HashConfig struct {
	// VirtualNodes is the number of ring points per node (default
	// DefaultVirtualNodes). More points spread keys more evenly (the
	// standard deviation of a node's share is about 1/sqrt(VirtualNodes)
	// of the mean) at the cost of a larger ring: n*VirtualNodes points.
	VirtualNodes int
}

// ConsistentHash returns a strategy that routes each call on its key
// (WithHashKey) with a hash ring: every node owns VirtualNodes points of a
// 64-bit ring, placed by hashing the node's ID, and a key goes to the owner
// of the first point at or after the key's hash. Calls with the same key
// reach the same node while the node set is unchanged; when a node leaves,
// only the keys it owned move (to the next owners on the ring), and when
// one joins it takes about 1/n of the keys. A call's retries walk on
// clockwise to the next node it has not tried.
//
// A call without a key starts at a random point drawn from r (which is
// guarded by a mutex of the strategy's and must not be used elsewhere; nil
// means a PCG seeded from crypto/rand). Node IDs and the key are hashed with
// FNV-1a and a MurmurHash3 finalizer. The ring is built once per node set
// (O(nV log nV)); a pick is a binary search, O(log n), and does not
// allocate (its Pickers are recycled once released). Safe for concurrent
// use; nothing blocks.
//
// With the default Selector's outlier detection, an ejected node's keys
// move to the next nodes on the ring until it returns, and the single probe
// that brings a node back may carry any key.
func ConsistentHash(r *rand.Rand, cfg HashConfig) Strategy {
	if cfg.VirtualNodes <= 0 {
		cfg.VirtualNodes = DefaultVirtualNodes
	}
	return &consistentHash{rng: newLockedRand(r), vnodes: cfg.VirtualNodes}
}

type consistentHash struct {
	rng      *lockedRand
	vnodes   int
	services perService[setCache[ring]]
	picks    pickerPool[hashPick]
}

// ring is a hash ring over a node slice: points sorted, owners[i] the index
// (into the slice) of the node that owns points[i].
type ring struct {
	points []uint64
	owners []uint32
}

// Pick implements Strategy: a call without a key starts at a random point.
func (h *consistentHash) Pick(service string, nodes []*registry.Node) Picker {
	p := h.pick(service, nodes)
	if p.ring != nil {
		p.pos = h.rng.intN(len(p.ring.points))
	}
	return p
}

// PickKey implements KeyPicker.
func (h *consistentHash) PickKey(service, key string, nodes []*registry.Node) Picker {
	p := h.pick(service, nodes)
	if p.ring != nil {
		p.pos = p.ring.search(hashString(key))
	}
	return p
}

func (h *consistentHash) pick(service string, nodes []*registry.Node) *hashPick {
	p := h.picks.get()
	p.h, p.service, p.nodes, p.ring, p.pos = h, service, nodes, nil, 0
	p.tried.reset(len(nodes))
	if len(nodes) > 0 {
		p.ring = h.services.get(service).get(nodes, idFingerprint, h.build)
	}
	return p
}

// build places vnodes points per node; equal points (vanishingly rare) are
// ordered by node index, so the ring is a function of the node IDs.
func (h *consistentHash) build(nodes []*registry.Node) *ring {
	type point struct {
		h     uint64
		owner uint32
	}
	pts := make([]point, 0, len(nodes)*h.vnodes)
	for i, n := range nodes {
		base := fnvString(fnvOffset, n.ID)
		for v := range h.vnodes {
			pts = append(pts, point{mix64(base + uint64(v)*0x9e3779b97f4a7c15), uint32(i)})
		}
	}
	slices.SortFunc(pts, func(a, b point) int {
		if c := cmp.Compare(a.h, b.h); c != 0 {
			return c
		}
		return cmp.Compare(a.owner, b.owner)
	})
	r := &ring{points: make([]uint64, len(pts)), owners: make([]uint32, len(pts))}
	for i, p := range pts {
		r.points[i], r.owners[i] = p.h, p.owner
	}
	return r
}

// search returns the index of the first point at or after h, wrapping.
func (r *ring) search(h uint64) int {
	i, _ := slices.BinarySearch(r.points, h)
	if i == len(r.points) {
		i = 0
	}
	return i
}

type hashPick struct {
	h       *consistentHash
	service string
	nodes   []*registry.Node
	ring    *ring
	pos     int // the ring position of the next attempt
	tried   triedSet
}

// Release implements Picker.
func (p *hashPick) Release() {
	h := p.h
	p.h, p.service, p.nodes, p.ring = nil, "", nil, nil
	h.picks.put(p)
}

// Next implements Picker.
func (p *hashPick) Next() (*registry.Node, error) {
	n := len(p.nodes)
	if p.tried.count >= n {
		return nil, exhausted(p.service, n)
	}
	// Walk clockwise to a node not tried yet; every node owns points, so
	// one turn of the ring finds one.
	for steps := 0; ; steps++ {
		if steps > len(p.ring.points) {
			panic("selector: hash ring lacks an untried node")
		}
		i := int(p.ring.owners[p.pos])
		if p.pos++; p.pos == len(p.ring.points) {
			p.pos = 0
		}
		if !p.tried.has(i) {
			p.tried.add(i)
			return p.nodes[i], nil
		}
	}
}
