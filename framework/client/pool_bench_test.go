package client

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/microsim/microsim/memory"
)

// BenchmarkPool measures a client's pool over n addresses: warmup dials
// each of them once with a fresh pool (the pool's own bookkeeping must be
// O(1) a dial, not O(n)); get hands out a connection already dialled, in
// shuffled order.
func BenchmarkPool(b *testing.B) {
	for _, n := range []int{1000, 20000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			ctx := context.Background()
			net := memory.MustNetwork()
			defer net.Close()
			addrs := make([]string, n)
			for i := range addrs {
				addrs[i] = fmt.Sprintf("srv-%d:1", i)
				if _, err := net.Host(fmt.Sprintf("srv-%d", i)).Transport().Listen(addrs[i]); err != nil {
					b.Fatal(err)
				}
			}
			p := newPool(net.Host("cli").Transport(), 1)
			defer p.close()
			b.Run("warmup", func(b *testing.B) {
				for range b.N {
					q := newPool(net.Host("cli2").Transport(), 1)
					for _, a := range addrs {
						if _, err := q.get(ctx, a); err != nil {
							b.Fatal(err)
						}
					}
					q.close()
				}
			})
			for _, a := range addrs {
				if _, err := p.get(ctx, a); err != nil {
					b.Fatal(err)
				}
			}
			for _, a := range addrs { // again: the last dials are published
				if _, err := p.get(ctx, a); err != nil {
					b.Fatal(err)
				}
			}
			order := rand.New(rand.NewPCG(1, 2)).Perm(n)
			b.Run("get", func(b *testing.B) {
				for i := range b.N {
					if _, err := p.get(ctx, addrs[order[i%n]]); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
