package faults_test

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/faults"
)

func TestLinkLoss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		inj := faults.New(1)
		lk := newLink(t, inj)
		spec := aToB
		spec.Loss = 0.3
		f, err := inj.Inject(ctx, "loss", spec)
		require.NoError(t, err)

		const n = 10000
		got := sendAll(t, ctx, lk.cs, lk.ss, n)
		dropped := n - len(got)
		t.Logf("30%% loss dropped %d of %d messages (%.2f%%)", dropped, n, 100*float64(dropped)/n)
		assert.InDelta(t, 0.30, float64(dropped)/n, 0.02)
		assert.True(t, slices.IsSorted(got), "what arrives keeps its order")
		st := f.Stats()
		assert.Equal(t, uint64(n), st.Matched)
		assert.Equal(t, uint64(dropped), st.Touched)
		assert.Equal(t, uint64(dropped), st.Counts["dropped"])
	})
}

// lossRuns returns the rate of loss and the mean length of the runs of
// consecutive lost messages when n messages cross a link with spec.
func lossRuns(t *testing.T, spec faults.LinkFault, n int) (rate, meanRun float64) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		inj := faults.New(11)
		lk := newLink(t, inj)
		_, err := inj.Inject(ctx, "loss", spec)
		require.NoError(t, err)
		got := sendAll(t, ctx, lk.cs, lk.ss, n)
		received := make([]bool, n)
		for _, i := range got {
			received[i] = true
		}
		runs, lost, cur := 0, 0, 0
		for _, ok := range received {
			if !ok {
				lost++
				cur++
				continue
			}
			if cur > 0 {
				runs++
			}
			cur = 0
		}
		if cur > 0 {
			runs++
		}
		rate, meanRun = float64(lost)/float64(n), float64(lost)/float64(runs)
	})
	return rate, meanRun
}

func TestLinkBurstyLoss(t *testing.T) {
	const n = 10000
	indep := aToB
	indep.Loss = 0.2
	bursty := indep
	bursty.LossBurst = 5
	ri, mi := lossRuns(t, indep, n)
	rb, mb := lossRuns(t, bursty, n)
	t.Logf("independent 20%% loss: rate %.3f, mean run %.2f; bursty (mean burst 5): rate %.3f, mean run %.2f", ri, mi, rb, mb)
	assert.InDelta(t, 0.2, ri, 0.02)
	assert.InDelta(t, 0.2, rb, 0.03, "the long-run rate is kept")
	assert.InDelta(t, 1.25, mi, 0.1, "independent runs average 1/(1-p)")
	assert.InDelta(t, 5, mb, 0.75, "bursty runs average the burst length")
	assert.Greater(t, mb, 3*mi)
}

// droppedBy returns, by fault name, the numbers of the messages each fault
// dropped when n messages cross a link with the given faults and seed.
func droppedBy(t *testing.T, seed uint64, n int, specs map[string]faults.LinkFault) map[string][]int {
	out := make(map[string][]int)
	var mu sync.Mutex
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		inj := faults.New(seed, faults.OnTouch(func(tc faults.Touch) {
			if tc.Action == "dropped" {
				mu.Lock()
				out[tc.Fault] = append(out[tc.Fault], numberOf(tc.Message))
				mu.Unlock()
			}
		}))
		lk := newLink(t, inj)
		for _, name := range slices.Sorted(mapKeys(specs)) {
			_, err := inj.Inject(ctx, name, specs[name])
			require.NoError(t, err)
		}
		sendAll(t, ctx, lk.cs, lk.ss, n)
	})
	return out
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestLinkSameSeedSameMessages(t *testing.T) {
	loss := aToB
	loss.Loss = 0.3
	other := aToB
	other.Loss, other.Latency = 0.5, faults.Uniform(0, 10*time.Millisecond)

	first := droppedBy(t, 42, 2000, map[string]faults.LinkFault{"loss": loss})["loss"]
	again := droppedBy(t, 42, 2000, map[string]faults.LinkFault{"loss": loss})["loss"]
	both := droppedBy(t, 42, 2000, map[string]faults.LinkFault{"loss": loss, "other": other})
	otherSeed := droppedBy(t, 43, 2000, map[string]faults.LinkFault{"loss": loss})["loss"]

	t.Logf("seed 42: fault \"loss\" dropped %d messages; with a second fault %d (the second dropped %d); seed 43: %d",
		len(first), len(both["loss"]), len(both["other"]), len(otherSeed))
	require.NotEmpty(t, first)
	assert.Equal(t, first, again, "the same seed drops the same messages")
	assert.Equal(t, first, both["loss"], "adding a fault does not change another's draws")
	assert.NotEmpty(t, both["other"])
	assert.NotEqual(t, first, otherSeed, "another seed drops others")
}
