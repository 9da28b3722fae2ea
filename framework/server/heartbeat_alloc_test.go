//go:build !race

package server_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/server"
)

// countReg counts the calls of Register; with nop, Register does nothing
// else, to count what the heartbeat itself allocates.
type countReg struct {
	registry.Registry
	nop bool
	n   atomic.Int64
}

func (r *countReg) Register(ctx context.Context, s *registry.Service, opts ...registry.RegisterOption) error {
	r.n.Add(1)
	if r.nop {
		return nil
	}
	return r.Registry.Register(ctx, s, opts...)
}

// TestHeartbeatAllocations holds what the heartbeats of servers sharing a
// Heartbeater allocate once they run: nothing, in the heartbeat itself
// (nop: a registry that does nothing) and with the memory registry under
// it (memory: each beat registers its unchanged node again). Allocation
// counts mean nothing under the race detector, so this file is built
// without it.
func TestHeartbeatAllocations(t *testing.T) {
	for _, nop := range []bool{true, false} {
		name := map[bool]string{true: "nop", false: "memory"}[nop]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				h := server.NewHeartbeater()
				reg := &countReg{Registry: w.reg(w.srvHost), nop: nop}
				for i := range 10 {
					s, err := server.New("greeter", w.srvHost.Transport(), reg, server.WithID(fmt.Sprint("greeter-", i)),
						server.WithMetadata(map[string]string{"zone": "a"}),
						server.WithRegisterTTL(3*time.Second), server.WithRegisterInterval(time.Second), server.WithHeartbeater(h))
					require.NoError(t, err)
					require.NoError(t, s.Handle(&Greeter{}))
					require.NoError(t, s.Start(t.Context()))
					t.Cleanup(func() { _ = s.Stop(context.Background()) })
				}
				time.Sleep(3500 * time.Millisecond)
				// Each run: a second, 10 beats.
				allocs := testing.AllocsPerRun(20, func() { time.Sleep(time.Second) })
				assert.Zero(t, allocs, "allocations per 10 beats")
				assert.Equal(t, int64(10*(1+3+21)), reg.n.Load(), "Start's registration, 3 beats, then one a second")
				if !nop {
					got, err := w.reg(w.cliHost).GetService(t.Context(), "greeter")
					require.NoError(t, err)
					require.Len(t, got, 1)
					assert.Len(t, got[0].Nodes, 10, "nodes kept alive by the beats")
				}
			})
		})
	}
}
