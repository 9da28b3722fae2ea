package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/scenario"
)

// benchScenario is the performance target of the simulator: 20 instances
// in 2 zones at 1,000 calls/s for the given virtual duration, with a few
// faults spread over the run (a crash that restarts, a slow node, an
// error burst), so that the engine's fault, retry and metrics paths run
// too. At 10 minutes it makes 600,000 calls.
func benchScenario(d time.Duration) *scenario.Scenario {
	at := func(f float64) scenario.Duration { return scenario.D(time.Duration(f * float64(d))) }
	return &scenario.Scenario{
		Name:     fmt.Sprintf("bench-%v", d),
		Seed:     1,
		Duration: scenario.D(d),
		Topology: scenario.Topology{
			Registry: scenario.RegistryConfig{TTL: scenario.D(3 * time.Second)},
			Services: []scenario.Service{{
				Name: "api", Instances: 20, Zones: []string{"a", "b"},
				Endpoints: []scenario.Endpoint{
					{Name: "Api.Get", Latency: scenario.Latency{Dist: scenario.DistLognormal, Median: scenario.D(5 * time.Millisecond), P99: scenario.D(30 * time.Millisecond)}},
					{Name: "Api.Put", Latency: scenario.Latency{Dist: scenario.DistUniform, Min: scenario.D(5 * time.Millisecond), Max: scenario.D(15 * time.Millisecond)}},
				},
			}},
		},
		Clients: []scenario.Client{{Name: "load", Timeout: scenario.D(2 * time.Second), Retries: &scenario.RetryConfig{MaxAttempts: 3}}},
		Workloads: []scenario.Workload{{
			Name: "load", Service: "api", Rate: 1000, Idempotent: true,
			Mix: []scenario.MixEntry{{Endpoint: "Api.Get", Weight: 4}, {Endpoint: "Api.Put", Weight: 1}},
		}},
		Faults: []scenario.Fault{
			{Name: "crash", At: at(0.2), For: at(0.05), Crash: &scenario.NodeFault{Target: scenario.Target{Service: "api", Instance: scenario.I(3)}}},
			{Name: "slow", At: at(0.4), For: at(0.1), Slow: &scenario.SlowFault{Target: scenario.Target{Service: "api", Instance: scenario.I(7)}, Factor: 10}},
			{Name: "errors", At: at(0.6), For: at(0.1), Errors: &scenario.ErrorsFault{Target: scenario.Target{Zone: "b"}, Rate: 0.05}},
		},
		Assertions: []scenario.Assertion{{SuccessRate: &scenario.SuccessRateCheck{Min: 0.99}}},
	}
}

// BenchmarkSim runs the scenario at three sizes; the cost per call should
// stay flat (linear growth in the number of calls). ns/call and the
// speed-up over real time are reported as metrics.
func BenchmarkSim(b *testing.B) {
	for _, d := range []time.Duration{time.Minute, 5 * time.Minute, 10 * time.Minute} {
		b.Run(d.String(), func(b *testing.B) {
			var calls uint64
			var wall time.Duration
			for range b.N {
				start := time.Now()
				rep := runBench(b, benchScenario(d))
				wall += time.Since(start)
				calls += rep.Totals.Calls
			}
			b.ReportMetric(float64(wall.Nanoseconds())/float64(calls), "ns/call")
			b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
			b.ReportMetric(d.Seconds()*float64(b.N)/wall.Seconds(), "x-realtime")
		})
	}
}

// runBench runs a scenario in a bubble under b (synctest needs a *T, so
// the bubble belongs to a subtest-free testing.T obtained through the
// benchmark's own RunWith hosting).
func runBench(b *testing.B, sc *scenario.Scenario) *sim.Report {
	b.Helper()
	var rep *sim.Report
	var err error
	ok := testing.RunTests(func(string, string) (bool, error) { return true, nil }, []testing.InternalTest{{
		Name: "bench",
		F: func(t *testing.T) {
			rep, err = sim.RunWith(sim.TestRunner(t), sc)
		},
	}})
	if !ok || err != nil {
		b.Fatalf("run failed: %v", err)
	}
	if !rep.Passed {
		b.Fatalf("assertions failed: %+v", rep.Assertions)
	}
	return rep
}
