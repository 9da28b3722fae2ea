package sim_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/sim"
)

// compareScenario runs 3s: three instances, uniform arrivals at 100/s,
// one instance stopped gracefully from 1s to 2s, calls retried on the
// others.
func compareScenario() *sim.Scenario {
	return &sim.Scenario{
		Name: "tcp-compare", Seed: 5, Duration: sim.D(3 * time.Second), Window: sim.D(100 * time.Millisecond),
		Topology: sim.Topology{Services: []sim.Service{{Name: "api", Instances: 3,
			Endpoints: []sim.Endpoint{{Name: "Api.Get", Latency: sim.Const(20 * time.Millisecond)}}}}},
		Workloads: []sim.Workload{{Name: "load", Service: "api", Endpoint: "Api.Get", Rate: 100, Arrivals: "uniform"}},
		Faults: []sim.Fault{{Name: "stop-1", At: sim.D(time.Second), For: sim.D(time.Second),
			Stop: &sim.NodeFault{Target: sim.Target{Service: "api", Instance: sim.I(1)}}}},
		Assertions: []sim.Assertion{
			{SuccessRate: &sim.SuccessRateCheck{Min: 1}},
			{Latency: &sim.LatencyCheck{Percentile: 50, Max: sim.D(25 * time.Millisecond)}},
			{TrafficShare: &sim.TrafficShareCheck{Scope: sim.Scope{Fault: "stop-1", From: sim.D(200 * time.Millisecond)}, Instance: "api-1", Max: sim.F(0)}},
		},
	}
}

// TestTCPAgreesWithSim runs one scenario in virtual time on the memory
// network and in real time over TCP on 127.0.0.1, and checks that the key
// figures agree within the stated tolerance:
//
//   - calls: equal (uniform arrivals: exactly 100/s for 3s);
//   - success rate: equal (100%: the stopped instance drains, its
//     refusals are retried);
//   - p50 latency: within 20% + 2ms (TCP adds loopback round trips and
//     real timer overshoot to the 20ms handlers);
//   - traffic share of every instance: within 3 percentage points;
//   - the fault timeline: the same events, within 100ms.
func TestTCPAgreesWithSim(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 3s in real time over TCP")
	}
	virtual := sim.RunScenario(t, compareScenario())
	require.NotNil(t, virtual)
	real, err := sim.RunWith(sim.RealTime(), compareScenario(), sim.WithTCP())
	require.NoError(t, err)
	for _, a := range real.Assertions {
		assert.True(t, a.Passed, "over TCP: %s: observed %s, expected %s (%s)", a.Name, a.Observed, a.Expected, a.Detail)
	}
	t.Logf("virtual: %d calls, %d ok, %d retries, p50 %.2fms, p99 %.2fms; tcp: %d calls, %d ok, %d retries, p50 %.2fms, p99 %.2fms, %.2fs wall",
		virtual.Totals.Calls, virtual.Totals.Successes, virtual.Totals.Retries, virtual.Latency.P50, virtual.Latency.P99,
		real.Totals.Calls, real.Totals.Successes, real.Totals.Retries, real.Latency.P50, real.Latency.P99, real.WallSeconds)

	assert.Equal(t, uint64(300), virtual.Totals.Calls)
	assert.Equal(t, virtual.Totals.Calls, real.Totals.Calls)
	assert.Equal(t, virtual.Totals.Successes, real.Totals.Successes)
	assert.InDelta(t, virtual.Latency.P50, real.Latency.P50, 0.2*virtual.Latency.P50+2)
	require.Len(t, real.Instances, len(virtual.Instances))
	for i := range virtual.Instances {
		assert.InDelta(t, virtual.Instances[i].Share, real.Instances[i].Share, 0.03, virtual.Instances[i].Name)
	}
	require.Len(t, real.Faults, 1)
	assert.Equal(t, virtual.Faults[0].Target, real.Faults[0].Target)
	assert.InDelta(t, virtual.Faults[0].StartSeconds, real.Faults[0].StartSeconds, 0.1)
	assert.InDelta(t, virtual.Faults[0].EndSeconds, real.Faults[0].EndSeconds, 0.1)
	assert.GreaterOrEqual(t, real.WallSeconds, 3.0, "real time")
	assert.InDelta(t, 3, real.VirtualSeconds, 0.5)
}

// TestCheckTCP: a fault kind the TCP backend cannot run is refused with
// the fault's path and the list of what is supported.
func TestCheckTCP(t *testing.T) {
	assert.NoError(t, sim.CheckTCP(compareScenario()))
	sc := compareScenario()
	sc.Faults = append(sc.Faults, sim.Fault{At: sim.D(time.Second), Pause: &sim.NodeFault{Target: sim.Target{Service: "api"}}})
	err := sim.CheckTCP(sc)
	var list sim.ErrorList
	require.True(t, errors.As(err, &list))
	require.Len(t, list, 1)
	assert.Equal(t, "faults[1].pause: not supported with --network tcp: a paused process that holds real sockets is not modelled "+
		"(supported: crash, stop, slow, errors, partition, link_latency, loss, registry_outage)", list[0].Error())
	assert.Equal(t, []string{"crash", "stop", "slow", "errors", "partition", "link_latency", "loss", "registry_outage"}, sim.TCPFaultKinds())
	_, err = sim.RunWith(sim.RealTime(), sc, sim.WithTCP())
	require.Error(t, err, "nothing runs")
}
