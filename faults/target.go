package faults

import (
	"context"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// NodeInfo describes a node of the world to the injector, so that targets
// can select it by service, zone or labels.
type NodeInfo struct {
	// Service is the service the node serves ("" for a pure client).
	Service string
	// Zone is the node's zone, if any.
	Zone string
	// Labels are free-form labels a target can match.
	Labels map[string]string
	// Addrs are transport addresses that belong to the node, for the
	// default resolver of WrapTransport (needed for TCP; a memory address
	// "host:port" resolves to its host without them). More can be added
	// with Injector.AddAddr once a server has picked its port.
	Addrs []string
	// Control carries out node faults (crash, stop, restart, pause). Nil
	// if no node fault will target the node.
	Control NodeControl
}

// NodeControl carries out node faults on one node. Each method blocks
// until done or ctx ends. HostNode implements it for a server on a
// memory.Host.
type NodeControl interface {
	// Crash kills the node's process abruptly: its registry entry stays
	// until its TTL passes.
	Crash(ctx context.Context) error
	// Stop stops the node gracefully (deregister, drain).
	Stop(ctx context.Context) error
	// Restart brings a crashed or stopped node back on the same address.
	Restart(ctx context.Context) error
	// Pause freezes the node: it stops serving and heartbeating.
	Pause(ctx context.Context) error
	// Resume ends a pause.
	Resume(ctx context.Context) error
}

// Target selects nodes. The zero Target is every node, including nodes
// the injector does not know. Any other Target selects among the nodes
// added with Injector.AddNode: those that pass every filter that is set
// (Nodes, Service, Zone, Labels), then, if Count or Share is set, that many
// of them drawn at random with the fault's own stream each time the fault
// starts.
type Target struct {
	// Nodes lists node names.
	Nodes []string
	// Service selects the nodes of a service.
	Service string
	// Zone selects the nodes of a zone.
	Zone string
	// Labels selects nodes that carry every one of these labels.
	Labels map[string]string
	// Count picks this many of the selected nodes at random (1: one random
	// instance).
	Count int
	// Share picks this share, in (0, 1], of the selected nodes at random
	// (rounded to the nearest count, at least one).
	Share float64
}

// Node is a Target of one node.
func Node(name string) Target { return Target{Nodes: []string{name}} }

// Service is a Target of every node of a service.
func Service(name string) Target { return Target{Service: name} }

// Zone is a Target of every node of a zone.
func Zone(name string) Target { return Target{Zone: name} }

// any reports whether t is the zero Target: every node.
func (t Target) any() bool {
	return len(t.Nodes) == 0 && t.Service == "" && t.Zone == "" && len(t.Labels) == 0 && t.Count == 0 && t.Share == 0
}

func (t Target) String() string {
	if t.any() {
		return "any"
	}
	var parts []string
	if len(t.Nodes) > 0 {
		parts = append(parts, "nodes="+strings.Join(t.Nodes, ","))
	}
	if t.Service != "" {
		parts = append(parts, "service="+t.Service)
	}
	if t.Zone != "" {
		parts = append(parts, "zone="+t.Zone)
	}
	for _, k := range slices.Sorted(maps.Keys(t.Labels)) {
		parts = append(parts, k+"="+t.Labels[k])
	}
	return strings.Join(parts, " ")
}

// candidates returns the sorted names of the known nodes that pass t's
// filters (Count and Share aside).
func (t Target) candidates(nodes map[string]NodeInfo) []string {
	var out []string
	for name, info := range nodes {
		if len(t.Nodes) > 0 && !slices.Contains(t.Nodes, name) {
			continue
		}
		if t.Service != "" && info.Service != t.Service {
			continue
		}
		if t.Zone != "" && info.Zone != t.Zone {
			continue
		}
		ok := true
		for k, v := range t.Labels {
			if got, has := info.Labels[k]; !has || got != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// validate checks t against the known nodes; field is its path ("from").
func (t Target) validate(c *check, field string, nodes map[string]NodeInfo) {
	if t.any() {
		return
	}
	for i, n := range t.Nodes {
		if _, ok := nodes[n]; !ok {
			c.failf(join(field, "nodes")+"["+strconv.Itoa(i)+"]", "unknown node %q", n)
		}
	}
	if t.Service != "" && !knownAttr(nodes, func(i NodeInfo) bool { return i.Service == t.Service }) {
		c.failf(join(field, "service"), "unknown service %q", t.Service)
	}
	if t.Zone != "" && !knownAttr(nodes, func(i NodeInfo) bool { return i.Zone == t.Zone }) {
		c.failf(join(field, "zone"), "unknown zone %q", t.Zone)
	}
	if t.Count < 0 {
		c.failf(join(field, "count"), "must be >= 0, got %d", t.Count)
	}
	if !(t.Share >= 0 && t.Share <= 1) {
		c.failf(join(field, "share"), "must be in (0, 1], got %v", t.Share)
	}
	if t.Count > 0 && t.Share > 0 {
		c.failf(join(field, "share"), "cannot be combined with count")
	}
	cands := t.candidates(nodes)
	if len(cands) == 0 {
		c.failf(field, "target %s matches no node", t)
	}
	if t.Count > len(cands) {
		c.failf(join(field, "count"), "must be <= %d, the number of matching nodes, got %d", len(cands), t.Count)
	}
}

func knownAttr(nodes map[string]NodeInfo, pred func(NodeInfo) bool) bool {
	for _, info := range nodes {
		if pred(info) {
			return true
		}
	}
	return false
}

// resolve turns t into a node set, drawing Count or Share with r.
func (t Target) resolve(nodes map[string]NodeInfo, r *rand.Rand) nodeSet {
	if t.any() {
		return nodeSet{all: true}
	}
	cands := t.candidates(nodes)
	n := len(cands)
	switch {
	case t.Count > 0:
		n = min(t.Count, n)
	case t.Share > 0:
		n = max(1, int(math.Round(t.Share*float64(n))))
		n = min(n, len(cands))
	}
	if n < len(cands) {
		// A partial Fisher-Yates shuffle over the sorted candidates.
		for i := range n {
			j := i + r.IntN(len(cands)-i)
			cands[i], cands[j] = cands[j], cands[i]
		}
		cands = cands[:n]
		slices.Sort(cands)
	}
	set := nodeSet{m: make(map[string]bool, len(cands))}
	for _, name := range cands {
		set.m[name] = true
	}
	return set
}

// nodeSet is a resolved target.
type nodeSet struct {
	all bool
	m   map[string]bool
}

func (s nodeSet) has(node string) bool { return s.all || s.m[node] }

// names returns the set's sorted names, or ["*"] for every node.
func (s nodeSet) names() []string {
	if s.all {
		return []string{"*"}
	}
	return slices.Sorted(maps.Keys(s.m))
}
