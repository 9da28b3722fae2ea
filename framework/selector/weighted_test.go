package selector_test

import (
	"strconv"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
)

// weighted returns nodes n-0000.. with the given weights in metadata.
func weighted(weights ...string) []*registry.Node {
	ns := nodes("n", len(weights))
	for i, w := range weights {
		if w != "" {
			ns[i].Metadata = map[string]string{selector.WeightKey: w}
		}
	}
	return ns
}

func TestWeightedRoundRobinShares(t *testing.T) {
	ns := weighted("1", "2", "3")
	const calls = 100_000
	counts := firstPicks(t, selector.WeightedRoundRobin(), ns, calls)
	for i, want := range []float64{1.0 / 6, 2.0 / 6, 3.0 / 6} {
		got := float64(counts[ns[i].ID]) / calls
		t.Logf("%s: %.4f (want %.4f)", ns[i].ID, got, want)
		assert.InDelta(t, want, got, 0.01, "node %s", ns[i].ID)
		// Whole cycles of 6 give exact shares: off by at most one cycle.
		assert.InDelta(t, want*calls, float64(counts[ns[i].ID]), 3)
	}
}

func TestWeightedRoundRobinInterleaves(t *testing.T) {
	ns := weighted("1", "2", "3")
	wrr := selector.WeightedRoundRobin()
	var seq []string
	for range 12 {
		n, err := wrr.Pick("svc", ns).Next()
		require.NoError(t, err)
		seq = append(seq, strings.TrimPrefix(n.ID, "n-000"))
	}
	// c b a c b c (nginx's sequence), twice.
	assert.Equal(t, "210212210212", strings.Join(seq, ""))

	// nginx's classic example: weights 5,1,1 spread the light nodes out.
	ns = weighted("5", "1", "1")
	seq = seq[:0]
	for range 7 {
		n, _ := wrr.Pick("classic", ns).Next()
		seq = append(seq, strings.TrimPrefix(n.ID, "n-000"))
	}
	assert.Equal(t, "0012000", strings.Join(seq, ""))
}

func TestWeightedRoundRobinWeights(t *testing.T) {
	ns := weighted("", "0", "-3", "x", "2", "5000")
	assert.Equal(t, 1, selector.NodeWeight(ns[0]), "absent")
	assert.Equal(t, 1, selector.NodeWeight(ns[1]), "zero")
	assert.Equal(t, 1, selector.NodeWeight(ns[2]), "negative")
	assert.Equal(t, 1, selector.NodeWeight(ns[3]), "not a number")
	assert.Equal(t, 2, selector.NodeWeight(ns[4]))
	assert.Equal(t, selector.MaxWeight, selector.NodeWeight(ns[5]), "capped")

	// Weights with a common divisor: 200:400 is 1:2 in a cycle of 3.
	ns = weighted("200", "400")
	counts := firstPicks(t, selector.WeightedRoundRobin(), ns, 3)
	assert.Equal(t, map[string]int{"n-0000": 1, "n-0001": 2}, counts)
}

func TestWeightedRoundRobinRetriesNeverRepeat(t *testing.T) {
	ws := make([]string, 70)
	for i := range ws {
		ws[i] = strconv.Itoa(1 + i%7)
	}
	ns := weighted(ws...)
	wrr := selector.WeightedRoundRobin()
	for call := range 20 {
		got, err := drain(wrr.Pick("svc", ns))
		require.ErrorIs(t, err, selector.ErrNoneAvailable)
		assert.ElementsMatch(t, ids(ns), got, "call %d", call)
	}
}

func TestWeightedRoundRobinFollowsWeightChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		ns := weighted("1", "1")
		register(t, reg, service("svc", "v1", ns...))
		s := newSelector(t, reg, selector.WithStrategy(selector.WeightedRoundRobin()))
		count := func(calls int) map[string]int {
			c := make(map[string]int)
			for range calls {
				c[pick(t, s, "svc")]++
			}
			return c
		}
		assert.Equal(t, map[string]int{"n-0000": 50, "n-0001": 50}, count(100))
		// Re-register n-0001 with weight 3: an Update event, same IDs.
		ns[1].Metadata = map[string]string{selector.WeightKey: "3"}
		register(t, reg, service("svc", "v1", ns[1]))
		synctest.Wait()
		assert.Equal(t, map[string]int{"n-0000": 25, "n-0001": 75}, count(100))
	})
}

func TestWeightedRoundRobinConcurrent(t *testing.T) {
	ns := weighted("1", "3")
	counts := pickConcurrently(t, selector.WeightedRoundRobin(), ns, 8, 1000)
	assert.Equal(t, map[string]int{"n-0000": 2000, "n-0001": 6000}, counts, "the rotation is shared: exact shares")
}
