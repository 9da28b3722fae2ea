package sim_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/sim"
)

// faultScenario: 2 instances of api (zones a and b) at 100 calls/s from
// a client in zone a, for 20s, with the given fault from 5s to 10s.
func faultScenario(f sim.Fault) *sim.Scenario {
	f.Name, f.At, f.For = "fault", sim.D(5*time.Second), sim.D(5*time.Second)
	return &sim.Scenario{
		Name: "memory-" + f.Kind(), Seed: 7, Duration: sim.D(20 * time.Second),
		Topology: sim.Topology{
			Registry: sim.RegistryConfig{TTL: sim.D(2 * time.Second)},
			Services: []sim.Service{{Name: "api", Instances: 2, Zones: []string{"a", "b"},
				Endpoints: []sim.Endpoint{{Name: "Api.Get", Latency: sim.Const(10 * time.Millisecond)}}}},
		},
		Clients: []sim.Client{{Name: "web", Zone: "a", AttemptTimeout: sim.D(100 * time.Millisecond),
			Retries: &sim.RetryConfig{MaxAttempts: 3}}},
		Workloads: []sim.Workload{{Name: "load", Client: "web", Service: "api", Endpoint: "Api.Get", Rate: 100, Arrivals: "uniform", Idempotent: true}},
		Faults:    []sim.Fault{f},
	}
}

// TestMemoryLinkLatency: link latency between the zones slows down the
// calls to zone b, in virtual time, and only while the fault is on.
func TestMemoryLinkLatency(t *testing.T) {
	rep := sim.RunScenario(t, faultScenario(sim.Fault{LinkLatency: &sim.LinkLatencyFault{
		From: sim.HostSet{Zone: "a"}, To: sim.HostSet{Zone: "b"}, Latency: sim.Const(20 * time.Millisecond)}}))
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
	rep := sim.RunScenario(t, faultScenario(sim.Fault{Pause: &sim.NodeFault{Target: sim.Target{Service: "api", Instance: sim.I(1)}}}))
	require.NotNil(t, rep)
	assert.Equal(t, rep.Totals.Calls, rep.Totals.Successes, "attempts to the paused node time out and are retried")
	assert.Positive(t, rep.Totals.Retries)
	assert.Positive(t, rep.Instances[1].Failures)
	require.Len(t, rep.Faults, 1)
	assert.Equal(t, sim.FaultEvent{Fault: "fault", Kind: "pause", Target: "api-1", StartSeconds: 5, EndSeconds: 10, Touched: 1,
		Start: sim.D(5 * time.Second), End: sim.D(10 * time.Second)}, rep.Faults[0])
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
