package bench

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/scenario"
)

// graphScenario is a three-tier call graph with fan-out: 550 calls/s to
// api, which calls mid, which fans out to 4 leaves and needs 3 of them:
// six RPCs per top-level call, ~2 million in 10 virtual minutes, with a
// crash, a slow leaf and an error burst on the way.
func graphScenario(d time.Duration) *scenario.Scenario {
	at := func(f float64) scenario.Duration { return scenario.D(time.Duration(f * float64(d))) }
	lognormal := scenario.Latency{Dist: scenario.DistLognormal, Median: scenario.D(2 * time.Millisecond), P99: scenario.D(10 * time.Millisecond)}
	return &scenario.Scenario{
		Name: fmt.Sprintf("graph-%v", d), Seed: 1, Duration: scenario.D(d),
		Topology: scenario.Topology{
			Registry: scenario.RegistryConfig{TTL: scenario.D(3 * time.Second)},
			Services: []scenario.Service{
				{Name: "api", Instances: 4, Zones: []string{"a", "b"}, Endpoints: []scenario.Endpoint{{Name: "Api.Get", Latency: scenario.Const(time.Millisecond),
					Calls: []scenario.Step{{Service: "mid", Endpoint: "Mid.Get"}}}}},
				{Name: "mid", Instances: 6, Zones: []string{"a", "b"}, Endpoints: []scenario.Endpoint{{Name: "Mid.Get", Latency: scenario.Const(time.Millisecond),
					Calls: []scenario.Step{{Service: "leaf", Endpoint: "Leaf.Get", Fanout: 4, Need: 3, Idempotent: true}}}}},
				{Name: "leaf", Instances: 10, Zones: []string{"a", "b"}, Endpoints: []scenario.Endpoint{{Name: "Leaf.Get", Latency: lognormal}}},
			},
		},
		Clients:   []scenario.Client{{Name: "load", Timeout: scenario.D(2 * time.Second)}},
		Workloads: []scenario.Workload{{Name: "load", Service: "api", Endpoint: "Api.Get", Rate: 550, Idempotent: true}},
		Faults: []scenario.Fault{
			{Name: "crash", At: at(0.2), For: at(0.05), Crash: &scenario.NodeFault{Target: scenario.Target{Service: "leaf", Instance: scenario.I(3)}}},
			{Name: "slow", At: at(0.4), For: at(0.1), Slow: &scenario.SlowFault{Target: scenario.Target{Service: "leaf", Instance: scenario.I(7)}, Factor: 10}},
			{Name: "errors", At: at(0.6), For: at(0.1), Errors: &scenario.ErrorsFault{Target: scenario.Target{Service: "mid", Zone: "b"}, Rate: 0.05}},
		},
		Assertions: []scenario.Assertion{{SuccessRate: &scenario.SuccessRateCheck{Min: 0.95}}},
	}
}

// rpcs is every attempt a run sent, at every tier.
func rpcs(rep *sim.Report) uint64 {
	var n uint64
	for _, t := range rep.Tiers {
		n += t.Attempts
	}
	return n
}

// BenchmarkSimGraph runs the three-tier scenario; ns/rpc compares with
// BenchmarkSim's ns/call (one RPC a call there, retries aside).
func BenchmarkSimGraph(b *testing.B) {
	for _, d := range []time.Duration{time.Minute, 10 * time.Minute} {
		b.Run(d.String(), func(b *testing.B) {
			var n uint64
			var wall time.Duration
			for range b.N {
				start := time.Now()
				rep := runBench(b, graphScenario(d))
				wall += time.Since(start)
				n += rpcs(rep)
			}
			b.ReportMetric(float64(wall.Nanoseconds())/float64(n), "ns/rpc")
			b.ReportMetric(float64(n)/float64(b.N), "rpcs/op")
			b.ReportMetric(d.Seconds()*float64(b.N)/wall.Seconds(), "x-realtime")
		})
	}
}

// sizeScenario is one service of n instances at 1,000 calls/s.
func sizeScenario(n int, d time.Duration, rate float64) *scenario.Scenario {
	return &scenario.Scenario{
		Name: fmt.Sprintf("size-%d", n), Seed: 1, Duration: scenario.D(d),
		Topology: scenario.Topology{Services: []scenario.Service{{Name: "api", Instances: n, Zones: []string{"a", "b"},
			Endpoints: []scenario.Endpoint{{Name: "Api.Get", Latency: scenario.Latency{Dist: scenario.DistLognormal, Median: scenario.D(5 * time.Millisecond), P99: scenario.D(30 * time.Millisecond)}}}}}},
		Workloads:  []scenario.Workload{{Name: "load", Service: "api", Endpoint: "Api.Get", Rate: rate}},
		Assertions: []scenario.Assertion{{SuccessRate: &scenario.SuccessRateCheck{Min: 1}}},
	}
}

// BenchmarkSimSize runs the same call rate on 10, 100 and 1,000
// instances for a minute: the cost per call should not grow with the
// world. ns/call is the wall time of the whole run (building the world,
// the calls, the heartbeats, the teardown) per call, and cpu-ns/call the
// process's CPU time per call. steady-ns/call is the cost of a call once
// the world runs: the minute's run less a 10-second run of the same
// world, per call of the difference, so that what is paid once per run
// (building and tearing down the world, each client's first dial to each
// instance) cancels out. x-vs-10 and steady-x-vs-10 divide ns/call and
// steady-ns/call by those of 10 instances, measured just before in the
// same process (reported when the 10-instance run ran first).
func BenchmarkSimSize(b *testing.B) {
	var base, baseSteady float64
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			var long, short sizeRun
			for range b.N {
				short.add(runSize(b, n, 10*time.Second))
				long.add(runSize(b, n, time.Minute))
			}
			perCall := long.wall / long.calls
			steady := (long.wall - short.wall) / (long.calls - short.calls)
			b.ReportMetric(perCall, "ns/call")
			b.ReportMetric(long.cpu/long.calls, "cpu-ns/call")
			b.ReportMetric(steady, "steady-ns/call")
			if n == 10 {
				base, baseSteady = perCall, steady
			}
			if base > 0 {
				b.ReportMetric(perCall/base, "x-vs-10")
				b.ReportMetric(steady/baseSteady, "steady-x-vs-10")
			}
		})
	}
}

// BenchmarkSimSizeParts takes the cost of a 1,000-instance world apart:
// the same minute at 1,000 calls/s as BenchmarkSimSize, with every
// call sent to 10 of the instances (hot10: the world is as large, the
// calls do not spread), and with a TTL of an hour so that no instance
// registers again during the run (noheartbeat). all is the world as
// BenchmarkSimSize runs it.
func BenchmarkSimSizeParts(b *testing.B) {
	for _, part := range []string{"all", "hot10", "noheartbeat"} {
		b.Run(part, func(b *testing.B) {
			var sum sizeRun
			for range b.N {
				sc := sizeScenario(1000, time.Minute, 1000)
				switch part {
				case "hot10":
					sc.Topology.Services[0].Overrides = []scenario.Override{{Instances: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, Labels: map[string]string{"hot": "1"}}}
					sc.Clients = []scenario.Client{{Name: "load", Selector: scenario.SelectorConfig{Filters: []scenario.FilterConfig{{Labels: map[string]string{"hot": "1"}}}}}}
				case "noheartbeat":
					sc.Topology.Registry = scenario.RegistryConfig{TTL: scenario.D(time.Hour)}
				}
				sum.add(measureRun(b, sc))
			}
			b.ReportMetric(sum.wall/sum.calls, "ns/call")
			b.ReportMetric(sum.cpu/sum.calls, "cpu-ns/call")
		})
	}
}

// sizeRun sums the runs of sizeScenario: wall and CPU nanoseconds, calls.
type sizeRun struct{ wall, cpu, calls float64 }

func (r *sizeRun) add(o sizeRun) {
	r.wall, r.cpu, r.calls = r.wall+o.wall, r.cpu+o.cpu, r.calls+o.calls
}

// runSize runs n instances at 1,000 calls/s for d.
func runSize(b *testing.B, n int, d time.Duration) sizeRun {
	return measureRun(b, sizeScenario(n, d, 1000))
}

// measureRun runs sc and measures it.
func measureRun(b *testing.B, sc *scenario.Scenario) sizeRun {
	cpu := cpuTime()
	start := time.Now()
	rep := runBench(b, sc)
	return sizeRun{wall: float64(time.Since(start).Nanoseconds()), cpu: float64((cpuTime() - cpu).Nanoseconds()), calls: float64(rep.Totals.Calls)}
}

// BenchmarkSimIdleInstance measures the heap an idle instance holds: the
// peak heap of a world of 1,000 instances less that of 10, per instance,
// both at one call a second.
func BenchmarkSimIdleInstance(b *testing.B) {
	var per float64
	for range b.N {
		small := peakHeap(b, sizeScenario(10, 20*time.Second, 1))
		large := peakHeap(b, sizeScenario(1000, 20*time.Second, 1))
		per += float64(large-small) / 990
	}
	b.ReportMetric(per/float64(b.N), "B/instance")
}

// peakHeap runs sc and returns the highest live heap seen while it ran,
// sampled every millisecond of real time.
func peakHeap(b *testing.B, sc *scenario.Scenario) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	runBench(b, sc)
	close(stop)
	wg.Wait()
	return peak.Load()
}
