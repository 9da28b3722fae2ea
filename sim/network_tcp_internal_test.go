package sim

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/faults"
	"github.com/microsim/microsim/sim/scenario"
)

// tcpWorld builds a world of two instances in zones a and b and a client
// in zone a over TCP, ready for calls (metrics included), and closes it
// when the test ends.
func tcpWorld(t *testing.T, sc *scenario.Scenario) (*tcpBackend, *world, func() error) {
	t.Helper()
	b := newTCPBackend()
	w, err := b.build(t.Context(), sc, sc.Seed, nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { b.close(w) })
	w.metrics = newMetrics(time.Now(), time.Second, time.Minute, 10*time.Second)
	w.metrics.addInstances(len(w.instances))
	seq := uint64(0)
	call := func() error {
		seq++
		var body [8]byte
		binary.LittleEndian.PutUint64(body[:], seq)
		var rsp []byte
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		return w.clients["client"].cli.Call(ctx, "api", "Api.Get", body[:], &rsp)
	}
	return b, w, call
}

func twoZones(faultsList ...scenario.Fault) *scenario.Scenario {
	return &scenario.Scenario{
		Name: "tcp-internal", Seed: 3, Duration: scenario.D(10 * time.Second),
		Topology: scenario.Topology{Services: []scenario.Service{{Name: "api", Instances: 2, Zones: []string{"a", "b"},
			Endpoints: []scenario.Endpoint{{Name: "Api.Get", Latency: scenario.Const(time.Millisecond)}}}}},
		Clients:   []scenario.Client{{Name: "client", Zone: "a"}},
		Workloads: []scenario.Workload{{Service: "api", Endpoint: "Api.Get", Rate: 10}},
		Faults:    faultsList,
	}
}

// TestTCPPartition: a partition of the schema runs as a faults.LinkFault
// on the client's TCP transport: the link to zone b refuses, the calls
// are retried on zone a and succeed, and the fault counts its refusals.
// (The backend is driven directly, the fault started by hand.)
func TestTCPPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("real TCP")
	}
	sc := twoZones(scenario.Fault{Name: "cut", Partition: &scenario.PartitionFault{From: scenario.HostSet{Zone: "a"}, To: scenario.HostSet{Zone: "b"}}})
	_, w, call := tcpWorld(t, sc)
	f := w.injFaults[0]
	require.NotNil(t, f)
	assert.Equal(t, faults.LinkFault{From: faults.Zone("a"), To: faults.Zone("b"), Bidirectional: true, Partition: true, Mode: faults.Refuse}, f.Spec())

	for range 4 {
		require.NoError(t, call())
	}
	before := w.metrics.instAttempts(1)
	assert.Positive(t, before, "zone b served before the partition")
	require.NoError(t, f.Start(t.Context()))
	for range 6 {
		require.NoError(t, call(), "refused on zone b, retried on zone a")
	}
	assert.Positive(t, f.Stats().Counts["refused"])
	assert.Equal(t, uint64(0), w.metrics.instAttempts(1)-before-w.metrics.instFailures(1), "nothing served by zone b during the partition")
	require.NoError(t, f.Stop(t.Context()))
}

// TestTCPCrashRestart: a crashed instance leaves a ghost (its refusals
// are retried) and comes back on the same port.
func TestTCPCrashRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("real TCP")
	}
	b, w, call := tcpWorld(t, twoZones())
	in := w.instances[1]
	addr := in.addr
	b.crash(in)
	for range 6 {
		require.NoError(t, call(), "the ghost's refusals are retried")
	}
	assert.Positive(t, w.metrics.instFailures(1), "the ghost was still tried")
	served := w.metrics.instAttempts(1) - w.metrics.instFailures(1)
	require.NoError(t, b.restart(t.Context(), w, in))
	assert.Equal(t, addr, in.addr, "same port")
	for range 6 {
		require.NoError(t, call())
	}
	assert.Greater(t, w.metrics.instAttempts(1)-w.metrics.instFailures(1), served, "served again after the restart")
}

// TestInjectorSpecs: how the schema's link and registry faults map to the
// faults package.
func TestInjectorSpecs(t *testing.T) {
	assert.Equal(t, faults.LinkFault{From: faults.Target{Service: "api"}, To: faults.Target{Nodes: []string{"client-web"}},
		Partition: true, Mode: faults.BlackHole},
		injectorSpec(&scenario.Fault{Partition: &scenario.PartitionFault{From: scenario.HostSet{Service: "api"}, To: scenario.HostSet{Client: "web"}, OneWay: true, Mode: "drop"}}))
	assert.Equal(t, faults.LinkFault{Bidirectional: true, Latency: faults.LogNormal(5*time.Millisecond, 50*time.Millisecond).Clamp(0, time.Second)},
		injectorSpec(&scenario.Fault{LinkLatency: &scenario.LinkLatencyFault{Latency: scenario.Latency{Dist: scenario.DistLognormal, Median: scenario.D(5 * time.Millisecond), P99: scenario.D(50 * time.Millisecond), Max: scenario.D(time.Second)}}}))
	assert.Equal(t, faults.LinkFault{From: faults.Zone("a"), Bidirectional: true, Loss: 0.25},
		injectorSpec(&scenario.Fault{Loss: &scenario.LossFault{From: scenario.HostSet{Zone: "a"}, Rate: 0.25}}))
	assert.Equal(t, faults.RegistryFault{Unavailable: true}, injectorSpec(&scenario.Fault{RegistryOutage: &scenario.RegistryOutageFault{}}))
	assert.Nil(t, injectorSpec(&scenario.Fault{Crash: &scenario.NodeFault{}}))
	assert.Equal(t, faults.Uniform(time.Millisecond, 3*time.Millisecond), faultDist(scenario.Latency{Dist: scenario.DistUniform, Min: scenario.D(time.Millisecond), Max: scenario.D(3 * time.Millisecond)}))
	assert.Equal(t, "zone a -> service api", linkTarget(&scenario.Fault{Partition: &scenario.PartitionFault{From: scenario.HostSet{Zone: "a"}, To: scenario.HostSet{Service: "api"}, OneWay: true}}))
	assert.Equal(t, "registry", linkTarget(&scenario.Fault{RegistryOutage: &scenario.RegistryOutageFault{}}))
}
