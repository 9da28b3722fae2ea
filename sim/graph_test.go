package sim_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/report"
	"github.com/microsim/microsim/sim/scenario"
)

// after 300ms; propagate sets the middle tiers' propagate_deadline.
func chain(propagate bool, dbLatency time.Duration) *scenario.Scenario {
	mid := func(name, callee, ep string) scenario.Service {
		return scenario.Service{Name: name, Instances: 2, PropagateDeadline: scenario.B(propagate),
			Endpoints: []scenario.Endpoint{{Name: strings.ToUpper(name[:1]) + name[1:] + ".Get", Latency: scenario.Const(time.Millisecond),
				Calls: []scenario.Step{{Service: callee, Endpoint: ep}}}}}
	}
	return &scenario.Scenario{
		Name: "chain", Seed: 3, Duration: scenario.D(5 * time.Second),
		Topology: scenario.Topology{Services: []scenario.Service{
			mid("api", "mid", "Mid.Get"),
			mid("mid", "db", "Db.Get"),
			{Name: "db", Instances: 2, Endpoints: []scenario.Endpoint{{Name: "Db.Get", Latency: scenario.Const(dbLatency)}}},
		}},
		Clients:   []scenario.Client{{Name: "c", Timeout: scenario.D(300 * time.Millisecond)}},
		Workloads: []scenario.Workload{{Name: "w", Service: "api", Endpoint: "Api.Get", Rate: 20, Arrivals: "uniform"}},
	}
}

func edge(t *testing.T, r *sim.Report, caller, service string) sim.EdgeReport {
	t.Helper()
	for _, e := range r.Edges {
		if e.Caller == caller && e.Service == service {
			return e
		}
	}
	t.Fatalf("no edge %s -> %s in %+v", caller, service, r.Edges)
	return sim.EdgeReport{}
}

func TestDeadlinePropagation(t *testing.T) {
	// db takes 2s; the caller gives up after 300ms.
	on := sim.Run(t, chain(true, 2*time.Second))
	off := sim.Run(t, chain(false, 2*time.Second))
	require.NotNil(t, on)
	require.NotNil(t, off)
	// Uniform arrivals, 20/s for 5s: 100 calls, each timed out.
	assert.Equal(t, uint64(100), on.Totals.Calls)
	assert.Equal(t, uint64(0), on.Totals.Successes)
	assert.Equal(t, uint64(0), off.Totals.Successes)
	// With propagation the deadline reaches db's caller: its calls end
	// at the top-level deadline (300ms less two 1ms hops).
	mdb := edge(t, on, "mid", "db")
	assert.Equal(t, uint64(100), mdb.Calls)
	assert.Equal(t, uint64(0), mdb.Successes)
	assert.InDelta(t, 298, mdb.Latency.Max, 2)
	// Without it, mid waits for db whatever its caller does: every call
	// on the edge succeeds, after db's 2s.
	mdb = edge(t, off, "mid", "db")
	assert.Equal(t, uint64(100), mdb.Successes)
	assert.InDelta(t, 2000, mdb.Latency.P50, 5)
	// db serves every request in both cases, but only without
	// propagation does it finish them.
	assert.Equal(t, uint64(100), off.Tiers[2].Attempts)
	assert.Equal(t, uint64(0), off.Tiers[2].Failures)
	assert.Equal(t, uint64(100), on.Tiers[2].Failures)
}

func TestFanoutNeed(t *testing.T) {
	sc := &scenario.Scenario{
		Name: "fanout", Seed: 4, Duration: scenario.D(10 * time.Second),
		Topology: scenario.Topology{Services: []scenario.Service{
			{Name: "api", Instances: 1, Endpoints: []scenario.Endpoint{{Name: "Api.Get",
				Calls: []scenario.Step{
					{Service: "leaf", Endpoint: "Leaf.Get", Fanout: 5, Need: 2},
					{Parallel: []scenario.Step{{Service: "a", Endpoint: "A.Get"}, {Service: "b", Endpoint: "B.Get", Fanout: 2}}},
				}}}},
			{Name: "leaf", Instances: 5, Endpoints: []scenario.Endpoint{{Name: "Leaf.Get", Latency: scenario.Latency{Dist: "uniform", Min: scenario.D(time.Millisecond), Max: scenario.D(50 * time.Millisecond)}}}},
			{Name: "a", Instances: 1, Endpoints: []scenario.Endpoint{{Name: "A.Get", Latency: scenario.Const(3 * time.Millisecond)}}},
			{Name: "b", Instances: 2, Endpoints: []scenario.Endpoint{{Name: "B.Get", Latency: scenario.Const(7 * time.Millisecond), ErrorRate: 0.5, ErrorCode: "internal"}}},
		}},
		Workloads: []scenario.Workload{{Name: "w", Service: "api", Endpoint: "Api.Get", Rate: 10, Arrivals: "uniform"}},
		Assertions: []scenario.Assertion{
			{Amplification: &scenario.AmplificationCheck{Service: "leaf", Min: scenario.F(5), Max: scenario.F(5)}},
			{Edge: &scenario.EdgeCheck{Caller: "api", Service: "leaf", MaxAttemptsPerCall: scenario.F(1)}},
		},
	}
	r := sim.Run(t, sc)
	require.NotNil(t, r)
	calls := r.Totals.Calls
	require.Equal(t, uint64(100), calls)
	leaf := edge(t, r, "api", "leaf")
	// Every call starts 5 leaf calls: 2 finish (the step needs 2), the
	// other 3 are cancelled once the second answer is in.
	assert.Equal(t, 5*calls, leaf.Calls+leaf.Cancelled)
	assert.Equal(t, 2*calls, leaf.Successes)
	assert.Equal(t, 3*calls, leaf.Cancelled)
	// The second step needs all 3 calls; b fails half of them (internal,
	// not retried), so a call succeeds when both of its b calls do.
	b := edge(t, r, "api", "b")
	a := edge(t, r, "api", "a")
	assert.Equal(t, 2*calls, b.Calls+b.Cancelled)
	assert.Equal(t, calls, a.Calls+a.Cancelled)
	rate := float64(r.Totals.Successes) / float64(calls)
	assert.InDelta(t, 0.25, rate, 0.1)
	assert.Equal(t, map[string]uint64{"internal": calls - r.Totals.Successes}, r.FailuresByCode)
}

// Inventory is a Go handler: Reserve calls the synthetic stock service
// and counts what it served.
type Inventory struct {
	stock  client.Client
	served *int
}

type ReserveRequest struct{ Item string }
type ReserveReply struct{ OK bool }

func (i *Inventory) Reserve(ctx context.Context, req *ReserveRequest, rsp *ReserveReply) error {
	var out struct{}
	if err := i.stock.Call(ctx, "stock", "Stock.Take", &struct{ Item string }{req.Item}, &out); err != nil {
		return err
	}
	*i.served++
	rsp.OK = req.Item == "book"
	return nil
}

func goScenario() *scenario.Scenario {
	return &scenario.Scenario{
		Name: "go", Seed: 8, Duration: scenario.D(10 * time.Second),
		Topology: scenario.Topology{Services: []scenario.Service{
			{Name: "inventory", Instances: 2, Implementation: scenario.ImplementationGo},
			{Name: "stock", Instances: 2, Endpoints: []scenario.Endpoint{{Name: "Stock.Take", Latency: scenario.Const(4 * time.Millisecond)}}},
		}},
		Workloads: []scenario.Workload{{Name: "w", Service: "inventory", Endpoint: "Inventory.Reserve", Request: `{"Item": "book"}`, Rate: 20, Arrivals: "uniform"}},
		Faults: []scenario.Fault{
			{Name: "slow", At: scenario.D(2*time.Second + 25*time.Millisecond), For: scenario.D(2 * time.Second), Slow: &scenario.SlowFault{Target: scenario.Target{Service: "inventory"}, Add: scenario.Const(10 * time.Millisecond)}},
			{Name: "fail", At: scenario.D(6*time.Second + 25*time.Millisecond), For: scenario.D(2 * time.Second), Errors: &scenario.ErrorsFault{Target: scenario.Target{Service: "inventory"}, Rate: 1, Code: "internal"}},
		},
	}
}

func TestGoService(t *testing.T) {
	served := 0
	r := sim.Run(t, goScenario(), sim.WithService("inventory", func(c client.Client) any {
		return &Inventory{stock: c, served: &served}
	}))
	require.NotNil(t, r)
	// 200 calls; the 40 made while the errors fault is on fail before the
	// handler runs, with the fault's code.
	assert.Equal(t, uint64(200), r.Totals.Calls)
	assert.Equal(t, uint64(160), r.Totals.Successes)
	assert.Equal(t, 160, served)
	assert.Equal(t, map[string]uint64{"internal": 40}, r.FailuresByCode)
	// The Go handler's calls to stock go through the world: the edge
	// counts them, and they take stock's 4ms.
	st := edge(t, r, "inventory", "stock")
	assert.Equal(t, uint64(160), st.Successes)
	assert.InDelta(t, 4, st.Latency.P50, 0.1)
	// The slow fault adds 10ms to the 40 calls made while it is on.
	assert.InDelta(t, 14, r.Windows[3].P50, 0.2)
	assert.InDelta(t, 4, r.Windows[1].P50, 0.2)
	for _, f := range r.Faults {
		assert.Positive(t, f.Touched, "fault %s touched nothing", f.Fault)
	}
}

func TestGoServiceMismatch(t *testing.T) {
	_, err := sim.RunWith(sim.TestRunner(t), goScenario())
	require.ErrorContains(t, err, `service "inventory" is implemented in Go: run it with sim.WithService("inventory", ...)`)
	_, err = sim.RunWith(sim.TestRunner(t), goScenario(),
		sim.WithService("inventory", func(client.Client) any { return &Inventory{} }),
		sim.WithService("stock", func(client.Client) any { return &Inventory{} }),
		sim.WithService("nope", func(client.Client) any { return &Inventory{} }))
	require.ErrorContains(t, err, `service "stock" is given a Go implementation but the scenario describes it`)
	require.ErrorContains(t, err, `a Go implementation is given for service "nope", which the scenario does not have`)
	// A handler with no usable method is refused when the world starts.
	_, err = sim.RunWith(sim.TestRunner(t), goScenario(), sim.WithService("inventory", func(client.Client) any { return struct{}{} }))
	require.ErrorContains(t, err, "the Go implementation of inventory")
}

func TestSeriesPerWorkloadAndEdge(t *testing.T) {
	sc := chain(true, 10*time.Millisecond)
	sc.Workloads = append(sc.Workloads, scenario.Workload{Name: "direct", Service: "db", Endpoint: "Db.Get", Rate: 10, Arrivals: "uniform"})
	rep, err := sim.RunWith(sim.TestRunner(t), sc)
	require.NoError(t, err)
	require.Len(t, rep.Workloads, 2)
	require.Len(t, rep.Edges, 2)
	// Every window carries each workload's and each edge's calls, and
	// they add up to the whole run's.
	var w, d, e0 uint64
	for _, win := range rep.Windows {
		require.Len(t, win.Workloads, 2)
		require.Len(t, win.Edges, 2)
		w += win.Workloads[0].Calls
		d += win.Workloads[1].Calls
		e0 += win.Edges[0].Calls
	}
	assert.Equal(t, rep.Workloads[0].Calls, w)
	assert.Equal(t, rep.Workloads[1].Calls, d)
	assert.Equal(t, rep.Edges[0].Calls, e0)
	// The direct workload's calls take db's 10ms; the chained ones two
	// more hops of 1ms.
	assert.InDelta(t, 10, rep.Windows[2].Workloads[1].P50, 0.2)
	assert.InDelta(t, 12, rep.Windows[2].Workloads[0].P50, 0.2)
	charts, err := report.Charts(rep)
	require.NoError(t, err)
	var ids []string
	for _, c := range charts {
		ids = append(ids, c.ID)
	}
	assert.Subset(t, ids, []string{"workload-success", "workload-latency", "edge-latency"})
	// Both workloads use the one default client: its series is their sum.
	require.Len(t, rep.Clients, 1)
	assert.Equal(t, rep.Workloads[0].Calls+rep.Workloads[1].Calls, rep.Clients[0].Calls)
	assert.Equal(t, rep.Windows[2].Workloads[0].Calls+rep.Windows[2].Workloads[1].Calls, rep.Windows[2].Clients[0].Calls)
}

// Echo is a Go handler that takes no virtual time.
type Echo struct{}

func (Echo) Say(ctx context.Context, req *ReserveRequest, rsp *ReserveReply) error {
	rsp.OK = req.Item != ""
	return nil
}

// A slow fault whose factor acts on a Go handler that takes no virtual
// time changes nothing: the report warns, and a test run fails.
func TestIdleFaultWarns(t *testing.T) {
	sc := &scenario.Scenario{
		Name: "idle", Seed: 8, Duration: scenario.D(6 * time.Second),
		Topology:  scenario.Topology{Services: []scenario.Service{{Name: "echo", Instances: 2, Implementation: scenario.ImplementationGo}}},
		Workloads: []scenario.Workload{{Name: "w", Service: "echo", Endpoint: "Echo.Say", Request: `{"Item": "x"}`, Rate: 20, Arrivals: "uniform"}},
		Faults: []scenario.Fault{{Name: "idle", At: scenario.D(2*time.Second + 25*time.Millisecond), For: scenario.D(2 * time.Second),
			Slow: &scenario.SlowFault{Target: scenario.Target{Service: "echo"}, Factor: 5}}},
	}
	echo := sim.WithService("echo", func(client.Client) any { return Echo{} })
	rep, err := sim.RunWith(sim.TestRunner(t), sc, echo)
	require.NoError(t, err)
	require.Equal(t, []string{"fault idle (slow) changed nothing: no call or event reached its target while it was active (or every handler it reached took no virtual time: a factor multiplies zero; use add)"}, rep.Warnings)
	var text strings.Builder
	require.NoError(t, rep.WriteText(&text))
	assert.Contains(t, text.String(), "WARNING: fault idle (slow) changed nothing")
	// With an endpoint latency the factor has something to multiply.
	sc.Topology.Services[0].Endpoints = []scenario.Endpoint{{Name: "Echo.Say", Latency: scenario.Const(2 * time.Millisecond)}}
	rep, err = sim.RunWith(sim.TestRunner(t), sc, echo)
	require.NoError(t, err)
	assert.Empty(t, rep.Warnings)
	assert.InDelta(t, 10, rep.Windows[3].P50, 0.2)
	assert.InDelta(t, 2, rep.Windows[1].P50, 0.2)
}

// A recursive call graph is allowed when a step of the cycle is bounded
// with max_depth, and it stops there: a call that fans out to two copies
// of itself down to depth 3 makes 1 + 2 + 4 + 8 calls.
func TestBoundedCycle(t *testing.T) {
	tree := func(maxDepth int) *scenario.Scenario {
		return &scenario.Scenario{
			Name: "tree", Seed: 5, Duration: scenario.D(5 * time.Second),
			Topology: scenario.Topology{Services: []scenario.Service{{Name: "tree", Instances: 3,
				Endpoints: []scenario.Endpoint{{Name: "Tree.Walk", Latency: scenario.Const(time.Millisecond),
					Calls: []scenario.Step{{Service: "tree", Endpoint: "Tree.Walk", Fanout: 2, MaxDepth: maxDepth}}}}}}},
			Workloads: []scenario.Workload{{Name: "w", Service: "tree", Endpoint: "Tree.Walk", Rate: 10, Arrivals: "uniform"}},
			Assertions: []scenario.Assertion{
				{Amplification: &scenario.AmplificationCheck{Service: "tree", Min: scenario.F(15), Max: scenario.F(15)}},
				{SuccessRate: &scenario.SuccessRateCheck{Min: 1}},
			},
		}
	}
	r := sim.Run(t, tree(3))
	require.NotNil(t, r)
	assert.Equal(t, uint64(50), r.Totals.Calls)
	assert.Equal(t, uint64(50*15), r.Tiers[0].Attempts)
	e := edge(t, r, "tree", "tree")
	assert.Equal(t, uint64(50*14), e.Calls, "every call below the top-level one")
	// Four levels of 1ms each, the children of a level at once.
	assert.InDelta(t, 4, r.Latency.P50, 0.1)

	// Unbounded, the same graph is refused, with what to do.
	err := tree(0).Validate()
	require.ErrorContains(t, err, "the call graph has a cycle: tree/Tree.Walk -> tree/Tree.Walk (bound it with max_depth on one of its steps)")
	// A bound so deep that the calls explode is refused too.
	err = tree(20).Validate()
	require.ErrorContains(t, err, "one call of tree/Tree.Walk causes more than 10000 calls down the call graph")
	err = tree(65).Validate()
	require.ErrorContains(t, err, "max_depth: must be in [1, 64], got 65")
}
