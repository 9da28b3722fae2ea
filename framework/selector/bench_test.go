package selector_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/microsim/microsim/framework/selector"
)

// benchPick measures one call's selector work: Select, one Next, Mark,
// Release.
func benchPick(b *testing.B, strategy func() selector.Strategy) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			reg := newFakeRegistry()
			register(b, reg, service("svc", "v1", nodes("n", n)...))
			s := newSelector(b, reg, selector.WithStrategy(strategy()))
			ctx := context.Background()
			if _, err := s.Select(ctx, "svc"); err != nil { // warm the cache
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				pick, err := s.Select(ctx, "svc")
				if err != nil {
					b.Fatal(err)
				}
				node, err := pick.Next()
				if err != nil {
					b.Fatal(err)
				}
				s.Mark("svc", node, nil)
				pick.Release()
			}
		})
	}
}

func BenchmarkRoundRobinPick(b *testing.B) { benchPick(b, selector.RoundRobin) }

func BenchmarkRandomPick(b *testing.B) {
	benchPick(b, func() selector.Strategy { return selector.Random(rand.New(rand.NewPCG(1, 2))) })
}
