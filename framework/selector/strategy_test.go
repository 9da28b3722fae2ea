package selector_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
)

// firstPicks runs calls single-attempt calls and counts picks per node ID.
func firstPicks(t *testing.T, s selector.Strategy, ns []*registry.Node, calls int) map[string]int {
	t.Helper()
	counts := make(map[string]int)
	for range calls {
		n, err := s.Pick("svc", ns).Next()
		if err != nil {
			t.Fatal(err)
		}
		counts[n.ID]++
	}
	return counts
}

func TestRoundRobinExactlyEven(t *testing.T) {
	ns := nodes("n", 3)
	counts := firstPicks(t, selector.RoundRobin(), ns, 300)
	assert.Equal(t, map[string]int{"n-0000": 100, "n-0001": 100, "n-0002": 100}, counts)
}

func TestRoundRobinCeilFloor(t *testing.T) {
	ns := nodes("n", 7)
	counts := firstPicks(t, selector.RoundRobin(), ns, 1000)
	require.Len(t, counts, 7)
	for id, c := range counts {
		assert.Contains(t, []int{142, 143}, c, "node %s", id) // 1000/7 = 142.86
	}
}

func TestRoundRobinSuccessiveCallsStartAtSuccessiveNodes(t *testing.T) {
	rr := selector.RoundRobin()
	ns := nodes("n", 4)
	for call := range 10 {
		n, err := rr.Pick("svc", ns).Next()
		require.NoError(t, err)
		assert.Equal(t, ns[call%4].ID, n.ID, "call %d", call)
	}
}

func TestRoundRobinRetriesDoNotShiftTheRotation(t *testing.T) {
	rr := selector.RoundRobin()
	ns := nodes("n", 3)
	a := rr.Pick("svc", ns)
	b := rr.Pick("svc", ns)
	first := func(next selector.Picker) string { n, err := next.Next(); require.NoError(t, err); return n.ID }
	assert.Equal(t, "n-0000", first(a)) // call a starts the rotation
	assert.Equal(t, "n-0001", first(a)) // its retry walks on from its own start
	assert.Equal(t, "n-0001", first(b)) // call b still gets the next rotation position
	assert.Equal(t, "n-0002", first(a))
	_, err := a.Next()
	require.ErrorIs(t, err, selector.ErrNoneAvailable)
	assert.Contains(t, err.Error(), `"svc"`)
}

// With one dead node of two, every call failing over must not make the dead
// node every call's first choice: it stays first for half of them.
func TestRoundRobinDeadNodeIsFirstChoiceOnlyItsShare(t *testing.T) {
	rr := selector.RoundRobin()
	ns := nodes("n", 2)
	firstOnDead := 0
	for range 100 {
		next := rr.Pick("svc", ns)
		n, err := next.Next()
		require.NoError(t, err)
		if n.ID == "n-0000" { // dead: the call retries
			firstOnDead++
			n, err = next.Next()
			require.NoError(t, err)
			require.Equal(t, "n-0001", n.ID)
		}
	}
	assert.Equal(t, 50, firstOnDead)
}

func TestRoundRobinOrdersByID(t *testing.T) {
	ns := nodes("n", 5)
	shuffled := slices.Clone(ns)
	rand.New(rand.NewPCG(1, 1)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	before := ids(shuffled)

	got, err := drain(selector.RoundRobin().Pick("svc", shuffled))
	require.ErrorIs(t, err, selector.ErrNoneAvailable)
	assert.Equal(t, ids(ns), got)
	assert.Equal(t, before, ids(shuffled), "Pick must not reorder its input")
}

func TestRoundRobinRotationPerService(t *testing.T) {
	rr := selector.RoundRobin()
	ns := nodes("n", 3)
	for i := range 3 {
		a, _ := rr.Pick("a", ns).Next()
		b, _ := rr.Pick("b", ns).Next()
		assert.Equal(t, ns[i].ID, a.ID)
		assert.Equal(t, ns[i].ID, b.ID)
	}
}

func TestRoundRobinConcurrentCallsStayEven(t *testing.T) {
	ns := nodes("n", 4)
	counts := pickConcurrently(t, selector.RoundRobin(), ns, 8, 500)
	for _, n := range ns {
		assert.Equal(t, 1000, counts[n.ID])
	}
}

func TestRandomUniform(t *testing.T) {
	ns := nodes("n", 10)
	counts := firstPicks(t, selector.Random(rand.New(rand.NewPCG(42, 7))), ns, 100_000)
	require.Len(t, counts, 10)
	for id, c := range counts {
		assert.InDelta(t, 10_000, c, 1_000, "node %s", id)
	}
}

func TestRandomIsReproducible(t *testing.T) {
	ns := nodes("n", 10)
	seq := func() []string {
		s := selector.Random(rand.New(rand.NewPCG(3, 4)))
		var out []string
		for range 50 {
			got, _ := drain(s.Pick("svc", ns))
			out = append(out, got...)
		}
		return out
	}
	assert.Equal(t, seq(), seq())
}

func TestRandomRetriesUniformAmongUntried(t *testing.T) {
	// The second attempt of a call must be uniform over the other 4 nodes.
	ns := nodes("n", 5)
	s := selector.Random(rand.New(rand.NewPCG(9, 9)))
	counts := make(map[[2]string]int)
	for range 50_000 {
		next := s.Pick("svc", ns)
		a, _ := next.Next()
		b, _ := next.Next()
		require.NotEqual(t, a.ID, b.ID)
		counts[[2]string{a.ID, b.ID}]++
	}
	require.Len(t, counts, 20) // 5*4 ordered pairs
	for pair, c := range counts {
		assert.InDelta(t, 2_500, c, 300, "pair %v", pair)
	}
}

func TestNextNeverRepeats(t *testing.T) {
	strategies := map[string]func() selector.Strategy{
		"roundrobin":      selector.RoundRobin,
		"random":          func() selector.Strategy { return selector.Random(rand.New(rand.NewPCG(5, 6))) },
		"weighted":        selector.WeightedRoundRobin,
		"p2c-leastloaded": func() selector.Strategy { return selector.P2CLeastLoaded(rand.New(rand.NewPCG(5, 6))) },
		"p2c-peakewma": func() selector.Strategy {
			return selector.P2CPeakEWMA(rand.New(rand.NewPCG(5, 6)), selector.PeakEWMAConfig{})
		},
		"hash": func() selector.Strategy {
			return selector.ConsistentHash(rand.New(rand.NewPCG(5, 6)), selector.HashConfig{})
		},
	}
	for name, mk := range strategies {
		t.Run(name, func(t *testing.T) {
			s := mk()
			for _, n := range []int{1, 2, 7, 63, 64, 65, 130, 1000} {
				ns := nodes("n", n)
				for call := range 5 {
					got, err := drain(s.Pick("svc", ns))
					require.ErrorIs(t, err, selector.ErrNoneAvailable)
					assert.Contains(t, err.Error(), `"svc"`)
					require.Len(t, got, n, "n=%d call=%d", n, call)
					slices.Sort(got)
					assert.Equal(t, ids(ns), got, "every node exactly once, n=%d", n)
				}
			}
		})
	}
}

func TestPickNoNodes(t *testing.T) {
	for _, s := range []selector.Strategy{
		selector.RoundRobin(), selector.Random(nil), selector.WeightedRoundRobin(), selector.P2CLeastLoaded(nil),
		selector.P2CPeakEWMA(nil, selector.PeakEWMAConfig{}), selector.ConsistentHash(nil, selector.HashConfig{}),
	} {
		_, err := s.Pick("svc", nil).Next()
		assert.True(t, errors.Is(err, selector.ErrNoneAvailable))
		if kp, ok := s.(selector.KeyPicker); ok {
			_, err = kp.PickKey("svc", "k", nil).Next()
			assert.True(t, errors.Is(err, selector.ErrNoneAvailable))
		}
	}
}

func TestRandomConcurrent(t *testing.T) {
	s := selector.Random(rand.New(rand.NewPCG(1, 2)))
	ns := nodes("n", 100)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				got, _ := drain(s.Pick("svc", ns))
				assert.Len(t, got, 100)
			}
		})
	}
	wg.Wait()
}

// pickConcurrently makes goroutines goroutines each pick per times from ns
// with st, at once, and counts the picks per node ID.
func pickConcurrently(t *testing.T, st selector.Strategy, ns []*registry.Node, goroutines, per int) map[string]int {
	t.Helper()
	var mu sync.Mutex
	counts := make(map[string]int)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range per {
				n, err := st.Pick("svc", ns).Next()
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				counts[n.ID]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return counts
}
