//go:build !race

package server_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/server"
)

// nopReg is a registry whose Register does nothing, to count what the
// heartbeat itself allocates.
type nopReg struct {
	registry.Registry
	n atomic.Int64
}

func (r *nopReg) Register(context.Context, *registry.Service, ...registry.RegisterOption) error {
	r.n.Add(1)
	return nil
}

// TestHeartbeatAllocations holds what the heartbeats of servers sharing a
// Heartbeater allocate once they run: nothing. Allocation counts mean
// nothing under the race detector, so this file is built without it.
func TestHeartbeatAllocations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		h := server.NewHeartbeater()
		reg := &nopReg{Registry: w.reg(w.srvHost)}
		for range 10 {
			s, err := server.New("greeter", w.srvHost.Transport(), reg,
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
	})
}
