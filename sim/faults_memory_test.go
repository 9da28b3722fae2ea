package sim_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/scenario"
)

// faultScenario: 2 instances of api (zones a and b) at 100 calls/s from
// a client in zone a, for 20s, with the given fault from 5s to 10s.
func faultScenario(f scenario.Fault) *scenario.Scenario {
	f.Name, f.At, f.For = "fault", scenario.D(5*time.Second), scenario.D(5*time.Second)
	return &scenario.Scenario{
		Name: "memory-" + f.Kind(), Seed: 7, Duration: scenario.D(20 * time.Second),
		Topology: scenario.Topology{
			Registry: scenario.RegistryConfig{TTL: scenario.D(2 * time.Second)},
			Services: []scenario.Service{{Name: "api", Instances: 2, Zones: []string{"a", "b"},
				Endpoints: []scenario.Endpoint{{Name: "Api.Get", Latency: scenario.Const(10 * time.Millisecond)}}}},
		},
		Clients: []scenario.Client{{Name: "web", Zone: "a", AttemptTimeout: scenario.D(100 * time.Millisecond),
			Retries: &scenario.RetryConfig{MaxAttempts: 3}}},
		Workloads: []scenario.Workload{{Name: "load", Client: "web", Service: "api", Endpoint: "Api.Get", Rate: 100, Arrivals: "uniform", Idempotent: true}},
		Faults:    []scenario.Fault{f},
	}
}

// TestMemoryLinkLatency: link latency between the zones slows down the
// calls to zone b, in virtual time, and only while the fault is on.
func TestMemoryLinkLatency(t *testing.T) {
	rep := sim.Run(t, faultScenario(scenario.Fault{LinkLatency: &scenario.LinkLatencyFault{
		From: scenario.HostSet{Zone: "a"}, To: scenario.HostSet{Zone: "b"}, Latency: scenario.Const(20 * time.Millisecond)}}))
	require.NotNil(t, rep)
	assert.Equal(t, rep.Totals.Calls, rep.Totals.Successes)
	require.Len(t, rep.Faults, 1)
	assert.Equal(t, "link_latency", rep.Faults[0].Kind)
	assert.Positive(t, rep.Faults[0].Touched)
	// Requests and replies are both delayed by 20ms on the link: the
	// calls that went to zone b during the fault took about 50ms.
	assert.InDelta(t, 50.0, rep.Latency.Max, 1)
	assert.InDelta(t, 10.0, rep.Latency.P50, 0.5)
	for _, w := range rep.Windows {
		if w.StartSeconds < 5 || w.StartSeconds >= 10 {
			assert.Less(t, w.P99, 11.0, "window at %vs", w.StartSeconds)
		}
	}
}

// TestMemoryPause: a paused instance stops answering and heartbeating;
// attempts to it time out and are retried, then its registry entry
// expires; it serves again after the pause.
func TestMemoryPause(t *testing.T) {
	rep := sim.Run(t, faultScenario(scenario.Fault{Pause: &scenario.NodeFault{Target: scenario.Target{Service: "api", Instance: scenario.I(1)}}}))
	require.NotNil(t, rep)
	assert.Equal(t, rep.Totals.Calls, rep.Totals.Successes, "attempts to the paused node time out and are retried")
	assert.Positive(t, rep.Totals.Retries)
	assert.Positive(t, rep.Instances[1].Failures)
	require.Len(t, rep.Faults, 1)
	assert.Equal(t, sim.FaultEvent{Fault: "fault", Kind: "pause", Target: "api-1", StartSeconds: 5, EndSeconds: 10, Touched: 1,
		Start: scenario.D(5 * time.Second), End: scenario.D(10 * time.Second)}, rep.Faults[0])
	// From TTL after the pause started to its end, api-1 is out of the
	// registry: no attempts.
	for _, w := range rep.Windows {
		if w.StartSeconds >= 8 && w.StartSeconds < 10 {
			assert.Zero(t, w.InstanceAttempts[1], "window at %vs", w.StartSeconds)
		}
		if w.StartSeconds >= 13 {
			assert.Positive(t, w.InstanceAttempts[1], "window at %vs", w.StartSeconds)
		}
	}
}
