package selector

import (
	"sync"
	"sync/atomic"

	"github.com/microsim/microsim/framework/registry"
)

// setCache holds a structure derived from a node slice (a weighted schedule,
// a hash ring) so that it is built once per node set rather than once per
// call. A lookup with the slice the cache was built from (same first
// element, same length: the default Selector passes the same slice until
// its cache or its set of ejected nodes changes) costs two comparisons; any
// other slice is fingerprinted in O(n) without allocating and reuses the
// structure when the fingerprint matches. The derived structure must refer
// to nodes by index only, so that a slice with equal fingerprint but newer
// node values (an address changed, say) is served its own nodes.
//
// Callers must not modify a slice after passing it (the same rule as for
// Strategy.Pick).
type setCache[T any] struct {
	cur atomic.Pointer[derived[T]]
	mu  sync.Mutex // serializes builds, so a change is built once
}

type derived[T any] struct {
	head **registry.Node
	n    int
	fp   uint64
	val  *T
}

// get returns the structure for nodes, building it with build on a miss.
// fingerprint must cover everything build reads.
func (c *setCache[T]) get(nodes []*registry.Node, fingerprint func([]*registry.Node) uint64, build func([]*registry.Node) *T) *T {
	if d := c.cur.Load(); d != nil && d.same(nodes) {
		return d.val
	}
	fp := fingerprint(nodes)
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.cur.Load()
	if d != nil && d.same(nodes) {
		return d.val
	}
	var val *T
	if d != nil && d.fp == fp && d.n == len(nodes) {
		val = d.val
	} else {
		val = build(nodes)
	}
	nd := &derived[T]{n: len(nodes), fp: fp, val: val}
	if len(nodes) > 0 {
		nd.head = &nodes[0]
	}
	c.cur.Store(nd)
	return val
}

func (d *derived[T]) same(nodes []*registry.Node) bool {
	if d.n != len(nodes) {
		return false
	}
	return len(nodes) == 0 || d.head == &nodes[0]
}

// FNV-1a, 64 bit.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// hashString hashes s (FNV-1a finished with mix64 for good high bits). It
// does not allocate.
func hashString(s string) uint64 { return mix64(fnvString(fnvOffset, s)) }

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func fnvUint(h, v uint64) uint64 {
	for range 8 {
		h ^= v & 0xff
		h *= fnvPrime
		v >>= 8
	}
	return h
}

// mix64 is the finalizer of MurmurHash3: every input bit affects every
// output bit.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// idFingerprint is the fingerprint of the sequence of node IDs.
func idFingerprint(nodes []*registry.Node) uint64 {
	h := uint64(fnvOffset)
	for _, n := range nodes {
		h = fnvString(h, n.ID)
		h = fnvUint(h, uint64(len(n.ID))) // separates "ab","c" from "a","bc"
	}
	return h
}
