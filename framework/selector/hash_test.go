package selector_test

import (
	"fmt"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
)

// owners maps each of keys to the node a fresh call with that key gets.
func owners(t *testing.T, s selector.Strategy, ns []*registry.Node, keys int) map[string]string {
	t.Helper()
	kp := s.(selector.KeyPicker)
	out := make(map[string]string, keys)
	for k := range keys {
		key := fmt.Sprintf("user-%d", k)
		n, err := kp.PickKey("svc", key, ns).Next()
		require.NoError(t, err)
		out[key] = n.ID
	}
	return out
}

func TestConsistentHashSpreadsKeys(t *testing.T) {
	ns := nodes("n", 10)
	const keys = 100_000
	counts := make(map[string]int)
	for _, id := range owners(t, selector.ConsistentHash(seeded(1, 1), selector.HashConfig{}), ns, keys) {
		counts[id]++
	}
	require.Len(t, counts, 10)
	for _, n := range ns {
		share := float64(counts[n.ID]) / keys
		t.Logf("%s: %.3f", n.ID, share)
		// 100 virtual nodes: a node's share is within about 3 standard
		// deviations (10% of the mean each) of 1/10.
		assert.InDelta(t, 0.1, share, 0.03, "node %s", n.ID)
	}
}

func TestConsistentHashIsSticky(t *testing.T) {
	ns := nodes("n", 10)
	a := owners(t, selector.ConsistentHash(seeded(1, 1), selector.HashConfig{}), ns, 1000)
	// Another strategy (another process), nodes in another order: the same
	// key goes to the same node, since the ring depends on IDs only...
	shuffled := slices.Clone(ns)
	slices.Reverse(shuffled)
	b := owners(t, selector.ConsistentHash(seeded(9, 9), selector.HashConfig{}), shuffled, 1000)
	assert.Equal(t, a, b)
	// ...and again and again from the same strategy.
	s := selector.ConsistentHash(nil, selector.HashConfig{})
	assert.Equal(t, a, owners(t, s, ns, 1000))
	assert.Equal(t, a, owners(t, s, ns, 1000))
}

func TestConsistentHashMinimalMovement(t *testing.T) {
	ns := nodes("n", 10)
	s := selector.ConsistentHash(seeded(1, 1), selector.HashConfig{})
	const keys = 20_000
	before := owners(t, s, ns, keys)
	gone := ns[3].ID
	after := owners(t, s, slices.Delete(slices.Clone(ns), 3, 4), keys)
	moved := 0
	for key, was := range before {
		if after[key] == was {
			continue
		}
		moved++
		assert.Equal(t, gone, was, "key %s moved although its node stayed", key)
	}
	share := float64(moved) / keys
	t.Logf("removing 1 of 10 nodes moved %.2f%% of the keys", 100*share)
	assert.InDelta(t, 0.1, share, 0.03)

	// A node joining takes about 1/11 of the keys, from every node.
	more := append(slices.Clone(ns), &registry.Node{ID: "n-0010", Address: "n-0010:1"})
	joined := owners(t, s, more, keys)
	took := 0
	for key, was := range before {
		if joined[key] != was {
			took++
			assert.Equal(t, "n-0010", joined[key])
		}
	}
	assert.InDelta(t, 1.0/11, float64(took)/keys, 0.03)
}

func TestConsistentHashRetriesWalkTheRing(t *testing.T) {
	ns := nodes("n", 70)
	kp := selector.ConsistentHash(seeded(1, 1), selector.HashConfig{VirtualNodes: 10}).(selector.KeyPicker)
	for k := range 50 {
		key := fmt.Sprintf("k%d", k)
		got, err := drain(kp.PickKey("svc", key, ns))
		require.ErrorIs(t, err, selector.ErrNoneAvailable)
		assert.ElementsMatch(t, ids(ns), got, "every node once")
		// The second node is the next distinct owner clockwise: the one
		// the key moves to if the first leaves.
		without := slices.DeleteFunc(slices.Clone(ns), func(n *registry.Node) bool { return n.ID == got[0] })
		n, _ := kp.PickKey("svc", key, without).Next()
		assert.Equal(t, got[1], n.ID)
	}
}

func TestConsistentHashWithoutKeyIsRandom(t *testing.T) {
	ns := nodes("n", 10)
	counts := firstPicks(t, selector.ConsistentHash(seeded(4, 4), selector.HashConfig{VirtualNodes: 1000}), ns, 100_000)
	for _, n := range ns {
		assert.InDelta(t, 10_000, counts[n.ID], 1_000, "node %s", n.ID)
	}
}

func TestSelectWithHashKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		register(t, reg, service("svc", "v1", nodes("n", 10)...))
		s := newSelector(t, reg, selector.WithStrategy(selector.ConsistentHash(seeded(1, 1), selector.HashConfig{})))
		first := pick(t, s, "svc", selector.WithHashKey("alice"))
		for range 100 {
			assert.Equal(t, first, pick(t, s, "svc", selector.WithHashKey("alice")))
		}
		seen := make(map[string]bool)
		for k := range 100 {
			seen[pick(t, s, "svc", selector.WithHashKey(fmt.Sprint(k)))] = true
		}
		assert.Len(t, seen, 10, "different keys spread")
		// A key is for calls, not for New.
		_, err := selector.New(reg, selector.WithHashKey("x"))
		assert.Error(t, err)
	})
}
