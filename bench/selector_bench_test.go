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
// the Pick's first node, the attempt's Begin and done (what the client does
// per attempt with a selector that implements Tracker), and the Pick's
// Release, per strategy at 10, 100 and 1,000 nodes. Targets: cost
// independent of the node count (O(log n) for the hash ring), no
// allocation at all.

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

// selNodes returns n nodes with weights 1..3, label tier=gold and zones z1
// and z2 (alternately) in their metadata.
func selNodes(n int) []*registry.Node {
	out := make([]*registry.Node, n)
	for i := range out {
		id := fmt.Sprintf("node-%05d", i)
		out[i] = &registry.Node{ID: id, Address: id + ":8080", Metadata: map[string]string{
			selector.WeightKey: strconv.Itoa(1 + i%3),
			"tier":             "gold",
			selector.ZoneKey:   "z" + strconv.Itoa(1+i%2),
		}}
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
	svc := &registry.Service{Name: "svc", Version: "v1", Nodes: selNodes(n), Endpoints: []*registry.Endpoint{{Name: "Call"}}}
	if err := reg.Register(ctx, svc); err != nil {
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
	p, err := s.Select(ctx, "svc")
	if err != nil {
		b.Fatal(err)
	}
	p.Release()
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
		pick, node := selectNext(b, s, ctx, opts)
		tr.Begin("svc", node)(nil)
		pick.Release()
	}
}

// BenchmarkSelectorMarked is Select + Next + Mark + Release per call (a
// client that does not use Tracker).
func BenchmarkSelectorMarked(b *testing.B) {
	for _, sc := range selStrategies() {
		for _, n := range selNodeCounts {
			b.Run(fmt.Sprintf("%s/nodes=%d", sc.name, n), func(b *testing.B) {
				s := newSelBench(b, n, selector.WithStrategy(sc.make()))
				ctx := context.Background()
				keys := selHashKeys()
				var opts []selector.SelectOption
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if sc.keys {
						opts = keys[i&1023]
						i++
					}
					pick, node := selectNext(b, s, ctx, opts)
					s.Mark("svc", node, nil)
					pick.Release()
				}
			})
		}
	}
}

// BenchmarkSelectorFiltered is BenchmarkSelectorTracked with the
// selector's filters (version, label, endpoint, zone: half the nodes are
// in the zone) and outlier detection on, for every strategy.
func BenchmarkSelectorFiltered(b *testing.B) {
	for _, sc := range selStrategies() {
		for _, n := range selNodeCounts {
			b.Run(fmt.Sprintf("%s/nodes=%d", sc.name, n), func(b *testing.B) {
				s := newSelBench(b, n, selector.WithStrategy(sc.make()),
					selector.WithFilter(selector.FilterVersion("v1"), selector.FilterLabel("tier", "gold"),
						selector.FilterEndpoint("Call"), selector.FilterZone("z1", 1)),
					selector.WithOutlierDetection(selector.OutlierConfig{SuccessRateThreshold: 0.5}))
				benchSelTracked(b, s, sc.keys)
			})
		}
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

// BenchmarkStrategyPick is a strategy on its own: Pick, the first node and
// Release, fed back through LoadFeedback where the strategy takes it.
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
					var p selector.Picker
					if sc.keys {
						p = kp.PickKey("svc", keys[i&1023], nodes)
						i++
					} else {
						p = st.Pick("svc", nodes)
					}
					node, err := p.Next()
					if err != nil {
						b.Fatal(err)
					}
					p.Release()
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
					pick, err := s.Select(ctx, "svc")
					if err != nil {
						b.Error(err)
						return
					}
					node, err := pick.Next()
					if err != nil {
						b.Error(err)
						return
					}
					tr.Begin("svc", node)(nil)
					pick.Release()
				}
			})
		})
	}
}

// selectNext is one call's Select and first Next on service "svc"; the
// caller releases the Pick.
func selectNext(b *testing.B, s selector.Selector, ctx context.Context, opts []selector.SelectOption) (selector.Pick, *registry.Node) {
	pick, err := s.Select(ctx, "svc", opts...)
	if err != nil {
		b.Fatal(err)
	}
	node, err := pick.Next()
	if err != nil {
		b.Fatal(err)
	}
	return pick, node
}
