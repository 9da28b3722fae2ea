// Package scenarios_test runs every scenario file shipped in this
// directory and requires each to pass.
package scenarios_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/scenario"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestScenarios runs each shipped scenario in virtual time; an invalid
// file, a failed assertion or a fault that changed nothing fails it.
func TestScenarios(t *testing.T) {
	files, err := scenario.ScenarioFiles(".")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 8, "the library ships at least 8 scenarios")
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)), func(t *testing.T) {
			if _, err := scenario.Load(file); err != nil {
				t.Fatalf("invalid scenario:\n%v", err)
			}
			rep := sim.Run(t, file)
			require.NotNil(t, rep)
			t.Logf("%s: %d calls, %.2f%% succeeded, %d retries, p99 %.1fms, %.0fs virtual in %.2fs",
				rep.Scenario, rep.Totals.Calls, 100*float64(rep.Totals.Successes)/float64(max(rep.Totals.Calls, 1)),
				rep.Totals.Retries, rep.Latency.P99, rep.VirtualSeconds, rep.WallSeconds)
		})
	}
}
