package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/memory"
)

// The selector benchmarks measure the selector's share of one call: Select,
// the Next's first node, and the attempt's Begin and done (what the client
// does per attempt with a selector that implements Tracker), per strategy
// at 10, 100 and 1,000 nodes. Targets: cost independent of the node count
// (O(log n) for the hash ring), no allocation beyond the Next.

var selNodeCounts = []int{10, 100, 1000}

type selStrategyCase struct {
	name string
	make func() selector.Strategy
	keys bool // route on a hash key per call
}

func selStrategies() []selStrategyCase {
	return []selStrategyCase{
		{name: "random", make: func() selector.Strategy { return selector.Random(rand.New(rand.NewPCG(1, 2))) }},
		{name: "roundrobin", make: selector.RoundRobin},
		{name: "weighted", make: selector.WeightedRoundRobin},
		{name: "p2c-leastloaded", make: func() selector.Strategy { return selector.P2CLeastLoaded(rand.New(rand.NewPCG(1, 2))) }},
		{name: "p2c-peakewma", make: func() selector.Strategy {
			return selector.P2CPeakEWMA(rand.New(rand.NewPCG(1, 2)), selector.PeakEWMAConfig{})
		}},
		{name: "hash", keys: true, make: func() selector.Strategy {
			return selector.ConsistentHash(rand.New(rand.NewPCG(1, 2)), selector.HashConfig{})
		}},
	}
}

// selNodes returns n nodes with weights 1..3 in their metadata.
func selNodes(n int) []*registry.Node {
	out := make([]*registry.Node, n)
	for i := range out {
		id := fmt.Sprintf("node-%05d", i)
		out[i] = &registry.Node{ID: id, Address: id + ":8080", Metadata: map[string]string{selector.WeightKey: strconv.Itoa(1 + i%3)}}
	}
	return out
}

// newSelBench returns a selector over a memory registry holding
// service "svc" with n nodes, its cache warm, and a Close for b.Cleanup.
func newSelBench(b *testing.B, n int, opts ...selector.Option) selector.Selector {
	b.Helper()
	net := memory.MustNetwork()
	ctx := context.Background()
	reg := net.Registry()
	if err := reg.Register(ctx, &registry.Service{Name: "svc", Version: "v1", Nodes: selNodes(n)}); err != nil {
		b.Fatal(err)
	}
	s, err := selector.New(reg, opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		s.Close()
		net.Close()
	})
	if _, err := s.Select(ctx, "svc"); err != nil {
		b.Fatal(err)
	}
	return s
}

// selHashKeys returns per-call options for 1024 distinct keys, made up front
// so that the loop measures the selector rather than building options.
func selHashKeys() [][]selector.SelectOption {
	out := make([][]selector.SelectOption, 1024)
	for i := range out {
		out[i] = []selector.SelectOption{selector.WithHashKey("user-" + strconv.Itoa(i))}
	}
	return out
}

// BenchmarkSelectorTracked is Select + Next + Begin + done per call.
func BenchmarkSelectorTracked(b *testing.B) {
	for _, sc := range selStrategies() {
		for _, n := range selNodeCounts {
			b.Run(fmt.Sprintf("%s/nodes=%d", sc.name, n), func(b *testing.B) {
				s := newSelBench(b, n, selector.WithStrategy(sc.make()))
				benchSelTracked(b, s, sc.keys)
			})
		}
	}
}

// BenchmarkSelectorTrackedOutlier is the same with outlier detection on
// (nothing ejected: the common case must stay as cheap).
func BenchmarkSelectorTrackedOutlier(b *testing.B) {
	for _, sc := range selStrategies() {
		if sc.name != "roundrobin" && sc.name != "p2c-peakewma" {
			continue
		}
		for _, n := range selNodeCounts {
			b.Run(fmt.Sprintf("%s/nodes=%d", sc.name, n), func(b *testing.B) {
				s := newSelBench(b, n, selector.WithStrategy(sc.make()),
					selector.WithOutlierDetection(selector.OutlierConfig{SuccessRateThreshold: 0.5}))
				benchSelTracked(b, s, sc.keys)
			})
		}
	}
}

func benchSelTracked(b *testing.B, s selector.Selector, keyed bool) {
	ctx := context.Background()
	tr := s.(selector.Tracker)
	keys := selHashKeys()
	var opts []selector.SelectOption
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if keyed {
			opts = keys[i&1023]
			i++
		}
		next, err := s.Select(ctx, "svc", opts...)
		if err != nil {
			b.Fatal(err)
		}
		node, err := next()
		if err != nil {
			b.Fatal(err)
		}
		tr.Begin("svc", node)(nil)
	}
}

// BenchmarkSelectorMarked is Select + Next + Mark per call (a client that
// does not use Tracker).
func BenchmarkSelectorMarked(b *testing.B) {
	for _, n := range selNodeCounts {
		b.Run(fmt.Sprintf("roundrobin/nodes=%d", n), func(b *testing.B) {
			s := newSelBench(b, n)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				next, err := s.Select(ctx, "svc")
				if err != nil {
					b.Fatal(err)
				}
				node, err := next()
				if err != nil {
					b.Fatal(err)
				}
				s.Mark("svc", node, nil)
			}
		})
	}
}

// BenchmarkTrackerOnly is Begin + done alone: the per-attempt bookkeeping.
func BenchmarkTrackerOnly(b *testing.B) {
	for _, n := range selNodeCounts {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			s := newSelBench(b, n, selector.WithStrategy(selector.P2CPeakEWMA(rand.New(rand.NewPCG(1, 2)), selector.PeakEWMAConfig{})),
				selector.WithOutlierDetection(selector.OutlierConfig{}))
			tr := s.(selector.Tracker)
			nodes := selNodes(n)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				tr.Begin("svc", nodes[i%n])(nil)
				i++
			}
		})
	}
}

// BenchmarkStrategyPick is a strategy on its own: Pick and the first node,
// fed back through LoadFeedback where the strategy takes it.
func BenchmarkStrategyPick(b *testing.B) {
	for _, sc := range selStrategies() {
		for _, n := range selNodeCounts {
			b.Run(fmt.Sprintf("%s/nodes=%d", sc.name, n), func(b *testing.B) {
				st := sc.make()
				nodes := selNodes(n)
				lf, _ := st.(selector.LoadFeedback)
				kp, _ := st.(selector.KeyPicker)
				keys := make([]string, 1024)
				for i := range keys {
					keys[i] = "user-" + strconv.Itoa(i)
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					var next selector.Next
					if sc.keys {
						next = kp.PickKey("svc", keys[i&1023], nodes)
						i++
					} else {
						next = st.Pick("svc", nodes)
					}
					node, err := next()
					if err != nil {
						b.Fatal(err)
					}
					if lf != nil {
						lf.Begin("svc", node)
						lf.End("svc", node, time.Now(), 0, nil)
					}
				}
			})
		}
	}
}

// BenchmarkSelectorParallel is BenchmarkSelectorTracked from every P.
func BenchmarkSelectorParallel(b *testing.B) {
	for _, sc := range selStrategies() {
		if sc.keys {
			continue
		}
		b.Run(fmt.Sprintf("%s/nodes=100", sc.name), func(b *testing.B) {
			s := newSelBench(b, 100, selector.WithStrategy(sc.make()))
			tr := s.(selector.Tracker)
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					next, err := s.Select(ctx, "svc")
					if err != nil {
						b.Error(err)
						return
					}
					node, err := next()
					if err != nil {
						b.Error(err)
						return
					}
					tr.Begin("svc", node)(nil)
				}
			})
		})
	}
}
