package sweep_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/internal/fixture"
	"github.com/microsim/microsim/sim/sweep"
)

// TestCheckDeterminism: two runs of the crash scenario with one seed give
// identical reports. (Poisson arrivals: uniform ones every 10ms would fall
// on the very instants of the crash and the restart, which goroutines
// woken together can see in either order; scenarios/README.md says what
// can still vary.)
func TestCheckDeterminism(t *testing.T) {
	sc := fixture.CrashScenario()
	sc.Workloads[0].Arrivals = "poisson"
	d, err := sweep.CheckDeterminism(sim.TestRunner(t), sc, 2)
	require.NoError(t, err)
	assert.True(t, d.Identical)
	assert.Empty(t, d.Diffs)
	assert.Equal(t, 2, d.Runs)
	assert.Equal(t, uint64(99), d.Seed)
	require.Len(t, d.Reports, 2)
	assert.NotSame(t, d.Reports[0], d.Reports[1])
	var out bytes.Buffer
	require.NoError(t, d.WriteText(&out))
	assert.Equal(t, fmt.Sprintf("DETERMINISTIC  builder-crash\n  seed 99, 2 runs: the reports are identical (wall_seconds aside)\n"+
		"  the scenario passed: %d calls, 0 failed, 5 of 5 assertions held\n", d.Reports[0].Totals.Calls), out.String())
	assert.InDelta(t, 2000, d.Reports[0].Totals.Calls, 150)
}

// TestDiffReports: differences are reported by JSON path, wall time aside.
func TestDiffReports(t *testing.T) {
	rep, err := sim.RunWith(sim.TestRunner(t), fixture.CrashScenario())
	require.NoError(t, err)
	clone := func() *sim.Report {
		var b bytes.Buffer
		require.NoError(t, rep.WriteJSON(&b))
		var c sim.Report
		require.NoError(t, jsonUnmarshal(b.Bytes(), &c))
		return &c
	}
	other := clone()
	other.WallSeconds += 3
	assert.Empty(t, sweep.DiffReports(rep, other), "wall time does not count")

	other.Totals.Calls++
	other.Windows[3].P99 = 99.5
	other.Instances = other.Instances[:3]
	other.FailuresByCode["unavailable"] = 2
	diffs := sweep.DiffReports(rep, other)
	var paths []string
	for _, d := range diffs {
		paths = append(paths, d.Path)
	}
	assert.Equal(t, []string{
		"failures_by_code.unavailable",
		"instances[3]",
		"totals.calls",
		"windows[3].p99_ms",
	}, paths)
	assert.Equal(t, "totals.calls: 2000 != 2001", diffs[2].String())
	assert.Equal(t, "failures_by_code.unavailable: (absent) != 2", diffs[0].String())

	d := &sweep.DeterminismReport{Scenario: "x", Seed: 1, Runs: 2, Diffs: diffs}
	var out bytes.Buffer
	require.NoError(t, d.WriteText(&out))
	assert.Contains(t, out.String(), "NOT DETERMINISTIC  x\n  seed 1, 2 runs: 4 value(s) differ between two runs (wall_seconds aside):\n    failures_by_code.unavailable: (absent) != 2\n")
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
