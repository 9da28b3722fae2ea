package sweep_test

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/scenario"
	"github.com/microsim/microsim/sim/sweep"
)

func TestParseSeedRange(t *testing.T) {
	seeds, err := sweep.ParseSeedRange("3-7")
	require.NoError(t, err)
	assert.Equal(t, []uint64{3, 4, 5, 6, 7}, seeds)
	seeds, err = sweep.ParseSeedRange(" 9 ")
	require.NoError(t, err)
	assert.Equal(t, []uint64{9}, seeds)
	seeds, err = sweep.ParseSeedRange("18446744073709551614-18446744073709551615")
	require.NoError(t, err)
	assert.Equal(t, []uint64{1<<64 - 2, 1<<64 - 1}, seeds, "the last seed does not overflow")
	for _, bad := range []string{"", "a-b", "5-1", "-3", "1-", "1-2-3", "0-100000"} {
		_, err := sweep.ParseSeedRange(bad)
		assert.Error(t, err, bad)
	}
	assert.Equal(t, "1-3, 7, 9-10", sweep.SeedList([]uint64{1, 2, 3, 7, 9, 10}))
	assert.Equal(t, "-", sweep.SeedList(nil))
}

// jitterScenario: lognormal handler latency, so that the p99 differs
// from seed to seed.
func jitterScenario(maxP99 time.Duration) *scenario.Scenario {
	return &scenario.Scenario{
		Name: "jitter", Duration: scenario.D(5 * time.Second),
		Topology: scenario.Topology{Services: []scenario.Service{{Name: "api", Instances: 2, Endpoints: []scenario.Endpoint{{
			Name: "Api.Get", Latency: scenario.Latency{Dist: scenario.DistLognormal, Median: scenario.D(10 * time.Millisecond), P99: scenario.D(50 * time.Millisecond)}}}}}},
		Workloads:  []scenario.Workload{{Service: "api", Endpoint: "Api.Get", Rate: 40}},
		Assertions: []scenario.Assertion{{Name: "p99", Latency: &scenario.LatencyCheck{Percentile: 99, Max: scenario.D(maxP99)}}},
	}
}

// TestSweep: one run per seed, several at a time; the summary says which
// seeds failed the assertion and how the figures spread, and matches the
// reports it summarises.
func TestSweep(t *testing.T) {
	seeds, err := sweep.ParseSeedRange("1-8")
	require.NoError(t, err)
	loose, err := sweep.Seeds(sim.TestRunner(t), jitterScenario(time.Second), seeds, 2)
	require.NoError(t, err)
	require.True(t, loose.Passed)
	require.Len(t, loose.Reports, 8)
	require.Len(t, loose.Assertions, 1)
	median := loose.Assertions[0].Observed.Median

	// A limit at the median: the seeds above it fail.
	limit := time.Duration(median * float64(time.Millisecond))
	s, err := sweep.Seeds(sim.TestRunner(t), jitterScenario(limit), seeds, 0)
	require.NoError(t, err)
	assert.Equal(t, min(runtime.GOMAXPROCS(0), 8), s.Parallel, "one run per CPU by default")
	var above []uint64
	var values []float64
	for i, r := range s.Reports {
		assert.Equal(t, seeds[i], r.Seed)
		values = append(values, r.Assertions[0].Value)
		if r.Assertions[0].Value > limit.Seconds()*1000 {
			above = append(above, r.Seed)
		}
		// The same seed gives the same run, however many run at once.
		assert.Equal(t, loose.Reports[i].Totals, r.Totals, "seed %d", r.Seed)
		assert.Equal(t, loose.Reports[i].Latency, r.Latency, "seed %d", r.Seed)
	}
	require.NotEmpty(t, above)
	require.Less(t, len(above), len(seeds))
	assert.False(t, s.Passed)
	assert.Equal(t, above, s.Failed)
	assert.Equal(t, above, s.Assertions[0].Failed)
	o := s.Assertions[0].Observed
	assert.Equal(t, slices.Min(values), o.Min)
	assert.Equal(t, slices.Max(values), o.Max)
	assert.Equal(t, median, o.Median)
	assert.Equal(t, "ms", o.Unit)

	byName := map[string]sweep.Spread{}
	for _, f := range s.Figures {
		byName[f.Name] = f
	}
	calls := byName["calls"]
	assert.LessOrEqual(t, calls.Min, calls.Median)
	assert.LessOrEqual(t, calls.Median, calls.Max)
	assert.InDelta(t, 200, calls.Median, 40, "40 calls/s for 5s")
	assert.Equal(t, 1.0, byName["success rate"].Min)

	var text bytes.Buffer
	require.NoError(t, s.WriteText(&text, func(seed uint64) string { return fmt.Sprintf("replay %d", seed) }))
	out := text.String()
	assert.Contains(t, out, "FAIL  jitter\n")
	assert.Contains(t, out, fmt.Sprintf("seeds 1-8: 8 runs, %d passed, %d failed; %d at a time", 8-len(above), len(above), s.Parallel))
	assert.Contains(t, out, fmt.Sprintf("%d/8", len(above)))
	assert.Contains(t, out, sweep.SeedList(above))
	assert.Contains(t, out, "Key figures across seeds")
	assert.Contains(t, out, "Replay a failing seed\n  replay "+fmt.Sprint(above[0])+"\n")
}

// TestSweepRunError: a scenario that cannot run fails the sweep.
func TestSweepRunError(t *testing.T) {
	_, err := sweep.Seeds(sim.TestRunner(t), &scenario.Scenario{Name: "empty"}, []uint64{1, 2}, 2)
	require.Error(t, err)
	_, err = sweep.Seeds(sim.TestRunner(t), jitterScenario(time.Second), nil, 2)
	require.Error(t, err)
}
