package faults_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/faults"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/memory"
)

// registerCounter counts the Register calls that reach the fault
// registry. Without its Standing it hides the one beneath.
type registerCounter struct {
	registry.Registry
	calls *atomic.Int64
}

func (r registerCounter) Register(ctx context.Context, s *registry.Service, opts ...registry.RegisterOption) error {
	r.calls.Add(1)
	return r.Registry.Register(ctx, s, opts...)
}

type standingCounter struct{ registerCounter }

func (r standingCounter) Stand(svc *registry.Service, at time.Time, every, ttl time.Duration, holder registry.StandHolder) (registry.Stand, bool) {
	return r.Registry.(registry.Standing).Stand(svc, at, every, ttl, holder)
}

// faultHistory is what the world sees of a heartbeat under a registry
// fault: the registry's events, when, and what the fault touched.
type faultHistory struct {
	events  []string
	touched map[string]uint64
	calls   int64
}

// runFaultHistory runs an echo server (TTL 3s, beats every second) whose
// registry is unavailable from 10.5s to 20.5s, then flaps (2s) from 30.5s
// to 35.5s, stopped at 40.5s; its heartbeat hands its renewals to the
// registry (through the fault registry) if standing.
func runFaultHistory(t *testing.T, standing bool) faultHistory {
	var h faultHistory
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		net := memory.MustNetwork()
		defer net.Close()
		inj := faults.New(7)
		defer inj.Close()
		host := net.Host("srv")
		require.NoError(t, inj.AddNode("srv", faults.NodeInfo{Service: "echo"}))
		var calls atomic.Int64
		var reg registry.Registry = registerCounter{inj.WrapRegistry("srv", host.Registry()), &calls}
		if standing {
			reg = standingCounter{reg.(registerCounter)}
		}
		start := time.Now()
		watch, err := net.Registry().Watch(ctx)
		require.NoError(t, err)
		var mu sync.Mutex
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				ev, err := watch.Next(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				h.events = append(h.events, fmt.Sprintf("%v@%v", ev.Type, ev.Timestamp.Sub(start)))
				mu.Unlock()
			}
		}()
		s, err := server.New("echo", host.Transport(), reg, server.WithRegisterTTL(3*time.Second),
			server.WithRegisterInterval(time.Second), server.WithHeartbeater(server.NewHeartbeater()))
		require.NoError(t, err)
		require.NoError(t, s.Handle(&Echo{name: "srv"}))
		require.NoError(t, s.Start(ctx))
		at := func(d time.Duration) { time.Sleep(time.Until(start.Add(d))) }

		at(10500 * time.Millisecond)
		down, err := inj.Inject(ctx, "down", faults.RegistryFault{Nodes: faults.Node("srv"), Unavailable: true})
		require.NoError(t, err)
		at(20500 * time.Millisecond)
		require.NoError(t, down.Stop(ctx))
		at(30500 * time.Millisecond)
		flap, err := inj.Inject(ctx, "flap", faults.RegistryFault{Nodes: faults.Node("srv"), Flap: 2 * time.Second})
		require.NoError(t, err)
		at(35500 * time.Millisecond)
		require.NoError(t, flap.Stop(ctx))
		at(40500 * time.Millisecond)
		require.NoError(t, s.Stop(ctx))
		at(50 * time.Second)
		watch.Stop()
		<-done
		h.touched = map[string]uint64{"unavailable": down.Stats().Counts["unavailable"], "flapped": flap.Stats().Counts["flapped"]}
		h.calls = calls.Load()
	})
	return h
}

// A heartbeat that hands its renewals to the registry through the fault
// registry is seen exactly as one that beats every interval: a registry
// fault that starts for its node breaks the hold at once, so its beats
// meet the fault as often, and the node expires, flaps and comes back at
// the same instants.
func TestRegistryFaultBreaksHolds(t *testing.T) {
	var beats, standing faultHistory
	t.Run("beats", func(t *testing.T) { beats = runFaultHistory(t, false) })
	t.Run("standing", func(t *testing.T) { standing = runFaultHistory(t, true) })
	want := []string{
		"create@0s", "delete@13s", "create@21s", // unavailable from 10.5s: the beats of 11s-20s fail
		"delete@31s", "create@33s", "delete@35s", "create@36s", // flap from 30.5s to 35.5s: the beats of 31s, 32s and 35s withdrawn
		"delete@40.5s",
	}
	assert.Equal(t, want, beats.events)
	assert.Equal(t, want, standing.events)
	assert.Equal(t, map[string]uint64{"unavailable": 10, "flapped": 3}, beats.touched)
	assert.Equal(t, beats.touched, standing.touched)
	// Start's registration and 40 beats; with holds, Start's, the beat of
	// 1s, those under a fault (10 of 11s-20s, 5 of 31s-35s) and the first
	// after each (21s, 36s).
	assert.EqualValues(t, 41, beats.calls)
	assert.EqualValues(t, 19, standing.calls)
}
