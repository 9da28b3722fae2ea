package memory_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/memory"
)

// BenchmarkRegistryHeartbeat registers n nodes of one service, each from
// its own host as a server does, then heartbeats them in turn: the same
// registration again, with a TTL. Its cost is paid once per node and
// heartbeat interval however few calls a world makes. At 20,000 nodes,
// heartbeated in a shuffled order, their state is out of the CPU's
// cache as it is in a large world, where calls run between heartbeats.
func BenchmarkRegistryHeartbeat(b *testing.B) {
	shape := &registry.Shape{Type: "string", Format: "base64"}
	for _, n := range []int{10, 20000} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			net := memory.MustNetwork()
			defer net.Close()
			ctx := context.Background()
			regs := make([]registry.Registry, n)
			svcs := make([]*registry.Service, n)
			for i := range n {
				id := fmt.Sprintf("api-%d", i)
				regs[i] = net.Host(id).Registry()
				svcs[i] = &registry.Service{Name: "api",
					Endpoints: []*registry.Endpoint{{Name: "Api.Get", Request: "[]uint8", Response: "[]uint8", RequestShape: shape, ResponseShape: shape}},
					Nodes:     []*registry.Node{{ID: id, Address: id + ":1", Metadata: map[string]string{"zone": "a"}}}}
				if err := regs[i].Register(ctx, svcs[i], registry.WithTTL(time.Hour)); err != nil {
					b.Fatal(err)
				}
			}
			order := rand.New(rand.NewPCG(1, 2)).Perm(n)
			ttl := []registry.RegisterOption{registry.WithTTL(time.Hour)}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				k := order[i%n]
				if err := regs[k].Register(ctx, svcs[k], ttl...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
