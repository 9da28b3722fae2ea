package sim_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/scenario"
)

// compareScenario runs 3s: three instances, uniform arrivals at 100/s,
// one instance stopped gracefully from 1s to 2s, calls retried on the
// others.
func compareScenario() *scenario.Scenario {
	return &scenario.Scenario{
		Name: "tcp-compare", Seed: 5, Duration: scenario.D(3 * time.Second), Window: scenario.D(100 * time.Millisecond),
		Topology: scenario.Topology{Services: []scenario.Service{{Name: "api", Instances: 3,
			Endpoints: []scenario.Endpoint{{Name: "Api.Get", Latency: scenario.Const(20 * time.Millisecond)}}}}},
		Workloads: []scenario.Workload{{Name: "load", Service: "api", Endpoint: "Api.Get", Rate: 100, Arrivals: "uniform"}},
		Faults: []scenario.Fault{{Name: "stop-1", At: scenario.D(time.Second), For: scenario.D(time.Second),
			Stop: &scenario.NodeFault{Target: scenario.Target{Service: "api", Instance: scenario.I(1)}}}},
		Assertions: []scenario.Assertion{
			{SuccessRate: &scenario.SuccessRateCheck{Min: 1}},
			{Latency: &scenario.LatencyCheck{Percentile: 50, Max: scenario.D(25 * time.Millisecond)}},
			{TrafficShare: &scenario.TrafficShareCheck{Scope: scenario.Scope{Fault: "stop-1", From: scenario.D(200 * time.Millisecond)}, Instance: "api-1", Max: scenario.F(0)}},
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
//   - the fault timeline: the same events, within 250ms (real timers on
//     a loaded machine run late).
func TestTCPAgreesWithSim(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 3s in real time over TCP")
	}
	virtual := sim.Run(t, compareScenario())
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
	assert.InDelta(t, virtual.Faults[0].StartSeconds, real.Faults[0].StartSeconds, 0.25)
	assert.InDelta(t, virtual.Faults[0].EndSeconds, real.Faults[0].EndSeconds, 0.25)
	assert.GreaterOrEqual(t, real.WallSeconds, 3.0, "real time")
	assert.InDelta(t, 3, real.VirtualSeconds, 0.5)
}

// TestCheckTCP: a fault kind the TCP backend cannot run is refused with
// the fault's path and the list of what is supported.
func TestCheckTCP(t *testing.T) {
	assert.NoError(t, sim.CheckTCP(compareScenario()))
	sc := compareScenario()
	sc.Faults = append(sc.Faults, scenario.Fault{At: scenario.D(time.Second), Pause: &scenario.NodeFault{Target: scenario.Target{Service: "api"}}})
	err := sim.CheckTCP(sc)
	var list scenario.ErrorList
	require.True(t, errors.As(err, &list))
	require.Len(t, list, 1)
	assert.Equal(t, "faults[1].pause: not supported with --network tcp: a paused process that holds real sockets is not modelled "+
		"(supported: crash, stop, slow, errors, partition, link_latency, loss, registry_outage)", list[0].Error())
	assert.Equal(t, []string{"crash", "stop", "slow", "errors", "partition", "link_latency", "loss", "registry_outage"}, sim.TCPFaultKinds())
	_, err = sim.RunWith(sim.RealTime(), sc, sim.WithTCP())
	require.Error(t, err, "nothing runs")
}

// graphOverTCP is a call graph with every kind of hop: api fans out three
// calls to stock, calls inventory (implemented in Go, which calls stock
// in turn) and publishes an event that shipping consumes; 2s at 50
// calls/s, uniform arrivals, no fault.
const graphOverTCP = `
name: graph-over-tcp
seed: 4
duration: 2s
window: 500ms
topology:
  services:
    - name: api
      instances: 2
      endpoints:
        - name: Api.Order
          latency: 1ms
          calls:
            - {service: stock, endpoint: Stock.Take, fanout: 3}
            - {service: inventory, endpoint: Inventory.Reserve, request: '{"Item": "book"}'}
            - {publish: order.created}
    - name: inventory
      instances: 2
      implementation: go
    - name: stock
      instances: 3
      endpoints:
        - {name: Stock.Take, latency: 2ms}
    - name: shipping
      instances: 2
      subscribers:
        - {topic: order.created, latency: 1ms}
workloads:
  - {name: orders, service: api, endpoint: Api.Order, rate: 50, arrivals: uniform}
assertions:
  - success_rate: {min: 1}
  - delivery: {topic: order.created, service: shipping, min_ratio: 1}
`

// TestGraphOverTCP runs a call graph with a Go service and events in
// virtual time and in real time over TCP, and checks that both count the
// same calls on every edge and the same deliveries: every hop of the
// graph goes through the instances' own clients over real sockets.
func TestGraphOverTCP(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 2s in real time over TCP")
	}
	run := func(served *atomic.Int64, opts ...sim.RunOption) *sim.Report {
		sc, err := scenario.Parse("graph-over-tcp.yaml", []byte(graphOverTCP))
		require.NoError(t, err)
		opts = append(opts, sim.WithServer("inventory", func(srv server.Server, c client.Client) error {
			return srv.Handle(&tcpInventory{stock: c, served: served}, server.HandleName("Inventory"))
		}))
		if len(opts) == 1 {
			return sim.Run(t, sc, opts...)
		}
		r, err := sim.RunWith(sim.RealTime(), sc, opts...)
		require.NoError(t, err)
		return r
	}
	var vServed, tServed atomic.Int64
	virtual := run(&vServed)
	real := run(&tServed, sim.WithTCP())
	require.Equal(t, sim.NetworkTCP, real.Network)
	for _, a := range real.Assertions {
		assert.True(t, a.Passed, "over TCP: %s: observed %s, expected %s (%s)", a.Name, a.Observed, a.Expected, a.Detail)
	}
	assert.Equal(t, uint64(100), virtual.Totals.Calls)
	assert.Equal(t, virtual.Totals.Calls, real.Totals.Calls)
	assert.Equal(t, real.Totals.Calls, real.Totals.Successes)
	assert.Equal(t, int64(100), vServed.Load())
	assert.Equal(t, int64(100), tServed.Load(), "the Go handler served every call over TCP")
	for _, e := range []struct {
		caller, callee string
		calls          uint64
	}{{"api", "stock", 300}, {"api", "inventory", 100}, {"inventory", "stock", 100}} {
		v, r := findEdge(virtual, e.caller, e.callee), findEdge(real, e.caller, e.callee)
		require.NotNil(t, v, "%s -> %s in virtual time", e.caller, e.callee)
		require.NotNil(t, r, "%s -> %s over TCP", e.caller, e.callee)
		assert.Equal(t, e.calls, v.Calls, "%s -> %s in virtual time", e.caller, e.callee)
		assert.Equal(t, e.calls, r.Successes, "%s -> %s over TCP", e.caller, e.callee)
	}
	require.Len(t, real.Deliveries, 1)
	assert.Equal(t, uint64(100), virtual.Deliveries[0].Unique)
	assert.Equal(t, uint64(100), real.Deliveries[0].Published)
	assert.Equal(t, uint64(100), real.Deliveries[0].Unique)
	assert.Zero(t, real.Deliveries[0].Duplicates)
	// Real sockets and timers: stock's 2ms is a floor, not a value.
	assert.GreaterOrEqual(t, findEdge(real, "api", "stock").Latency.P50, 2.0)
	assert.InDelta(t, 2, findEdge(virtual, "api", "stock").Latency.P50, 0.05)
}

func findEdge(r *sim.Report, caller, service string) *sim.EdgeReport {
	for i := range r.Edges {
		if r.Edges[i].Caller == caller && r.Edges[i].Service == service {
			return &r.Edges[i]
		}
	}
	return nil
}

// tcpInventory is a Go handler calling the synthetic stock service.
type tcpInventory struct {
	stock  client.Client
	served *atomic.Int64
}

func (i *tcpInventory) Reserve(ctx context.Context, req *ReserveRequest, rsp *ReserveReply) error {
	var out struct{}
	if err := i.stock.Call(ctx, "stock", "Stock.Take", &struct{ Item string }{req.Item}, &out); err != nil {
		return err
	}
	i.served.Add(1)
	rsp.OK = req.Item == "book"
	return nil
}
