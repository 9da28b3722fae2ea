//go:build !race

package memory_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/memory"
)

// TestRegistryHeartbeatAllocations holds what a heartbeat (the same
// registration again, with a TTL, through a host's registry) allocates:
// nothing, whether the caller passes the very Service again or an equal
// copy. Allocation counts mean nothing under the race detector, so this
// file is built without it.
func TestRegistryHeartbeatAllocations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memory.MustNetwork()
		defer n.Close()
		ctx, r := t.Context(), n.Host("a").Registry()
		w, err := r.Watch(ctx)
		require.NoError(t, err)
		defer w.Stop()
		shape := &registry.Shape{Type: "object", Fields: []*registry.Field{{Name: "name", Shape: registry.Shape{Type: "string"}}}}
		svc := &registry.Service{Name: "greeter", Version: "1", Metadata: map[string]string{"team": "x"},
			Endpoints: []*registry.Endpoint{{Name: "G.Hello", Request: "Req", Response: "Rsp", RequestShape: shape, ResponseShape: shape},
				{Name: "G.Stream", Metadata: map[string]string{"stream": "true"}}},
			Nodes: []*registry.Node{{ID: "a-1", Address: "a:1", Metadata: map[string]string{"zone": "z", "hot": "1"}}}}
		ttl := []registry.RegisterOption{registry.WithTTL(3 * time.Second)}
		require.NoError(t, r.Register(ctx, svc, ttl...))
		require.Equal(t, registry.Create, nextEvent(t, w).Type)

		for name, s := range map[string]*registry.Service{"same": svc, "copy": svc.Copy()} {
			var err error
			allocs := testing.AllocsPerRun(100, func() { err = r.Register(ctx, s, ttl...) })
			require.NoError(t, err)
			assert.Zero(t, allocs, "allocations per heartbeat, %s Service", name)
		}
		requireNoEvent(t, w)
		// The beats kept the node: it expires a TTL after the last.
		time.Sleep(3*time.Second - time.Millisecond)
		requireNoEvent(t, w)
		time.Sleep(time.Millisecond)
		synctest.Wait()
		require.Equal(t, registry.Delete, nextEvent(t, w).Type)
	})
}
