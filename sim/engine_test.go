package sim_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/internal/fixture"
	"github.com/microsim/microsim/sim/scenario"
)

// crashScenario is fixture.CrashScenario.
func crashScenario() *scenario.Scenario { return fixture.CrashScenario() }

func TestRunScenarioBuilder(t *testing.T) {
	rep := sim.Run(t, crashScenario())
	require.NotNil(t, rep)
	assert.True(t, rep.Passed)
	// Uniform arrivals at 100/s for 20s: exactly 2000 calls, all served.
	assert.Equal(t, uint64(2000), rep.Totals.Calls)
	assert.Equal(t, uint64(2000), rep.Totals.Successes)
	assert.Equal(t, rep.Totals.Attempts-rep.Totals.Calls, rep.Totals.Retries)
	// The ghost (TTL 2s) draws a quarter of the attempts for up to 2s:
	// between 1 and 60 retries, each of a refused attempt.
	assert.Positive(t, rep.Totals.Retries)
	assert.LessOrEqual(t, rep.Totals.Retries, uint64(60))
	assert.Equal(t, rep.Totals.Retries, rep.Instances[2].Failures)
	// Constant 10ms handlers: every call takes 10ms, unless retried.
	assert.InDelta(t, 10.0, rep.Latency.P50, 0.1)
	require.Len(t, rep.Faults, 1)
	assert.Equal(t, sim.FaultEvent{Fault: "crash", Kind: "crash", Target: "api-2", StartSeconds: 5, EndSeconds: 10, Touched: 1,
		Start: scenario.D(5 * time.Second), End: scenario.D(10 * time.Second)}, rep.Faults[0])
	require.Len(t, rep.Windows, 20)
	assert.Equal(t, uint64(100), rep.Windows[0].Calls)
	assert.Zero(t, rep.Windows[8].InstanceAttempts[2], "no attempt reaches the crashed node once its TTL passed")
	for _, a := range rep.Assertions {
		assert.True(t, a.Passed, "%s: observed %s, expected %s (%s)", a.Name, a.Observed, a.Expected, a.Detail)
	}
}

// TestSameSeedSameReport: two runs of one seed give the same report, wall
// time aside; another seed gives other draws.
func TestSameSeedSameReport(t *testing.T) {
	sc, err := scenario.Load("../scenarios/node-crash-ghost.yaml")
	require.NoError(t, err)
	run := func(opts ...sim.RunOption) []byte {
		rep := sim.Run(t, sc, opts...)
		require.NotNil(t, rep)
		rep.WallSeconds = 0
		var b bytes.Buffer
		require.NoError(t, rep.WriteJSON(&b))
		return b.Bytes()
	}
	first, second := run(), run()
	assert.Equal(t, string(first), string(second), "same seed, same report")
	other := run(sim.WithSeed(8))
	var a, b sim.Report
	require.NoError(t, json.Unmarshal(first, &a))
	require.NoError(t, json.Unmarshal(other, &b))
	assert.Equal(t, uint64(8), b.Seed)
	assert.NotEqual(t, a.Latency, b.Latency, "another seed draws other latencies")
}

// TestFailedAssertions: assertions that cannot hold fail with observed
// and expected values, and the run's report says so.
func TestFailedAssertions(t *testing.T) {
	sc := crashScenario()
	sc.Assertions = []scenario.Assertion{
		{Name: "impossible latency", Latency: &scenario.LatencyCheck{Percentile: 50, Max: scenario.D(time.Millisecond)}},
		{SuccessRate: &scenario.SuccessRateCheck{Min: 1, Scope: scenario.Scope{Workload: "load"}, Window: scenario.D(2 * time.Second)}},
		{Retries: &scenario.CountCheck{MaxTotal: scenario.I[int64](0)}},
	}
	rep, err := sim.RunWith(sim.TestRunner(t), sc)
	require.NoError(t, err)
	assert.False(t, rep.Passed)
	require.Len(t, rep.Assertions, 3)
	a := rep.Assertions[0]
	assert.Equal(t, sim.AssertionResult{Name: "impossible latency", Kind: "latency", Passed: false, Observed: "10.0ms",
		Expected: "<= 1.00ms", Value: 10.007, Unit: "ms", Detail: "0s-20s: 2000 calls"}, a)
	assert.True(t, rep.Assertions[1].Passed)
	assert.False(t, rep.Assertions[2].Passed)
	assert.Equal(t, "<= 0 in total", rep.Assertions[2].Expected)
	var text bytes.Buffer
	require.NoError(t, rep.WriteText(&text))
	assert.Contains(t, text.String(), "FAIL  builder-crash")
	assert.Contains(t, text.String(), "FAIL  impossible latency")
}

// TestClosedLoopAndRamp: closed-loop workers issue calls back to back; a
// ramp's rate rises linearly.
func TestClosedLoopAndRamp(t *testing.T) {
	sc := &scenario.Scenario{
		Name: "loops", Duration: scenario.D(10 * time.Second),
		Topology: scenario.Topology{Services: []scenario.Service{{Name: "db", Instances: 2,
			Endpoints: []scenario.Endpoint{{Name: "Db.Read", Latency: scenario.Const(50 * time.Millisecond)}}}}},
		Workloads: []scenario.Workload{
			{Name: "workers", Service: "db", Endpoint: "Db.Read", Concurrency: 4, Think: scenario.D(50 * time.Millisecond)},
			{Name: "ramp", Service: "db", Endpoint: "Db.Read", Arrivals: "uniform",
				Ramp: []scenario.RatePoint{{At: 0, Rate: 0}, {At: scenario.D(10 * time.Second), Rate: 100}}},
		},
	}
	rep := sim.Run(t, sc)
	require.NotNil(t, rep)
	require.Len(t, rep.Workloads, 2)
	// 4 workers x 10s / (50ms call + 50ms think) = 400 calls.
	assert.Equal(t, uint64(400), rep.Workloads[0].Calls)
	// The ramp's integral: 10s x 100/s / 2 = 500 calls, give or take the
	// first slow seconds.
	assert.InDelta(t, 500, float64(rep.Workloads[1].Calls), 25)
	assert.Less(t, rep.Windows[1].Calls, rep.Windows[9].Calls)
}
