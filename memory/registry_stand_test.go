package memory_test

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/memory"
)

// standWorld is a network with a host "h", a one-node service registered
// from h with a TTL of 3s at start, and a watcher of the registry.
type standWorld struct {
	n     *memory.Network
	h     *memory.Host
	r     registry.Registry
	w     registry.Watcher
	svc   *registry.Service
	start time.Time

	mu     sync.Mutex
	breaks []time.Duration // the last tick held of each call of broken, since start
}

var standRenew = []registry.RegisterOption{registry.WithTTL(3 * time.Second), registry.Renewal()}

func newStandWorld(t *testing.T) *standWorld {
	t.Helper()
	n := memory.MustNetwork()
	t.Cleanup(func() { _ = n.Close() })
	sw := &standWorld{n: n, h: n.Host("h"), svc: regService("svc", "1.0", "a"), start: time.Now()}
	sw.r = sw.h.Registry()
	w, err := n.Registry().Watch(t.Context())
	require.NoError(t, err)
	t.Cleanup(w.Stop)
	sw.w = w
	require.NoError(t, sw.r.Register(t.Context(), sw.svc, standRenew[0]))
	require.Equal(t, registry.Create, nextEvent(t, w).Type)
	return sw
}

// stand asks the registry to hold the renewals of sw.svc from start,
// every second.
func (sw *standWorld) stand() (registry.Stand, bool) {
	return sw.r.(registry.Standing).Stand(sw.svc, sw.start, time.Second, 3*time.Second, sw)
}

func (sw *standWorld) StandBroken(last time.Time) {
	sw.mu.Lock()
	sw.breaks = append(sw.breaks, last.Sub(sw.start))
	sw.mu.Unlock()
}

func (sw *standWorld) broken() []time.Duration {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return append([]time.Duration(nil), sw.breaks...)
}

// sleepTo sleeps until d after start.
func (sw *standWorld) sleepTo(d time.Duration) {
	time.Sleep(time.Until(sw.start.Add(d)))
	synctest.Wait()
}

// A node whose renewals the registry holds does not expire, and emits
// nothing, however long it is held; once the holder stops, it expires
// one TTL after the last tick held, as if each renewal had been made.
func TestStandHoldsRenewals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sw := newStandWorld(t)
		st, ok := sw.stand()
		require.True(t, ok)
		sw.sleepTo(60*time.Second + 500*time.Millisecond)
		requireNoEvent(t, sw.w)
		got, err := sw.r.GetService(t.Context(), "svc")
		require.NoError(t, err)
		require.Len(t, got[0].Nodes, 1)

		st.Stop()
		sw.sleepTo(63*time.Second - time.Nanosecond)
		got, err = sw.r.GetService(t.Context(), "svc")
		require.NoError(t, err, "still listed 1ns before it expires")
		require.Len(t, got[0].Nodes, 1)
		sw.sleepTo(63 * time.Second)
		ev := nextEvent(t, sw.w)
		require.Equal(t, registry.Delete, ev.Type)
		assert.Equal(t, 63*time.Second, ev.Timestamp.Sub(sw.start), "one TTL after the 60s tick, the last held")
		assert.Empty(t, sw.broken(), "Stop does not tell the holder")
		st.Stop() // a second Stop does nothing
	})
}

// Whatever would make a renewal fail, or writes the node, breaks the
// standing at its instant: broken is called with the last tick held
// (never one at the instant of the break), and the node then expires one
// TTL after it unless renewed.
func TestStandBreaks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		at      time.Duration // of the break, since start
		brk     func(t *testing.T, sw *standWorld)
		last    time.Duration // the last tick held
		want    registry.EventType
		eventAt time.Duration // of the node's next event
	}{
		{"pause", 10500 * time.Millisecond, func(t *testing.T, sw *standWorld) { sw.h.Pause() }, 10 * time.Second, registry.Delete, 13 * time.Second},
		{"pause on a tick", 10 * time.Second, func(t *testing.T, sw *standWorld) { sw.h.Pause() }, 9 * time.Second, registry.Delete, 12 * time.Second},
		{"crash", 10500 * time.Millisecond, func(t *testing.T, sw *standWorld) { sw.h.Crash() }, 10 * time.Second, registry.Delete, 13 * time.Second},
		{"before the first tick", 700 * time.Millisecond, func(t *testing.T, sw *standWorld) { sw.h.Crash() }, 0, registry.Delete, 3 * time.Second},
		{"deregistered", 10500 * time.Millisecond, func(t *testing.T, sw *standWorld) {
			require.NoError(t, sw.r.Deregister(t.Context(), sw.svc))
		}, 10 * time.Second, registry.Delete, 10500 * time.Millisecond},
		{"registered again with a change", 10500 * time.Millisecond, func(t *testing.T, sw *standWorld) {
			changed := regService("svc", "1.0", "a")
			changed.Nodes[0].Metadata = map[string]string{"zone": "b"}
			require.NoError(t, sw.r.Register(t.Context(), changed, standRenew[0]))
		}, 10 * time.Second, registry.Update, 10500 * time.Millisecond},
		{"renewed by another caller", 10500 * time.Millisecond, func(t *testing.T, sw *standWorld) {
			require.NoError(t, sw.r.Register(t.Context(), sw.svc, standRenew...))
		}, 10 * time.Second, registry.Delete, 13500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sw := newStandWorld(t)
				_, ok := sw.stand()
				require.True(t, ok)
				sw.sleepTo(tc.at)
				tc.brk(t, sw)
				synctest.Wait()
				assert.Equal(t, []time.Duration{tc.last}, sw.broken())
				sw.sleepTo(tc.eventAt)
				ev := nextEvent(t, sw.w)
				assert.Equal(t, tc.want, ev.Type)
				assert.Equal(t, tc.eventAt, ev.Timestamp.Sub(sw.start))
				if tc.want == registry.Update {
					// The new registration expires one TTL after it.
					sw.sleepTo(tc.eventAt + 3*time.Second)
					assert.Equal(t, registry.Delete, nextEvent(t, sw.w).Type)
				}
				sw.sleepTo(30 * time.Second)
				requireNoEvent(t, sw.w)
				assert.Len(t, sw.broken(), 1, "broken is called once")
			})
		})
	}
}

// Closing the network breaks every standing.
func TestStandBrokenByClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sw := newStandWorld(t)
		_, ok := sw.stand()
		require.True(t, ok)
		sw.sleepTo(5500 * time.Millisecond)
		require.NoError(t, sw.n.Close())
		assert.Equal(t, []time.Duration{5 * time.Second}, sw.broken())
	})
}

// The registry refuses to hold renewals it could not make: on a paused or
// crashed host, with a TTL no longer than the interval, of a value the
// node was not registered from, or held already.
func TestStandRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sw := newStandWorld(t)
		st := sw.r.(registry.Standing)

		_, ok := st.Stand(sw.svc, sw.start, time.Second, time.Second, sw)
		assert.False(t, ok, "a TTL no longer than the interval")
		_, ok = st.Stand(regService("svc", "1.0", "a"), sw.start, time.Second, 3*time.Second, sw)
		assert.False(t, ok, "an equal value the node was not registered from")
		_, ok = st.Stand(sw.svc, sw.start.Add(time.Second), time.Second, 3*time.Second, sw)
		assert.False(t, ok, "a tick after the registration")

		sw.h.Pause()
		_, ok = sw.stand()
		assert.False(t, ok, "a paused host")
		sw.h.Resume()
		held, ok := sw.stand()
		require.True(t, ok)
		_, ok = sw.stand()
		assert.False(t, ok, "held already")
		held.Stop()

		sw.h.Crash()
		_, ok = sw.stand()
		assert.False(t, ok, "a crashed host")
		assert.Empty(t, sw.broken())
	})
}

// recHolder records, in order, the names of the holders told.
type recHolder struct {
	name string
	mu   *sync.Mutex
	told *[]string
}

func (r recHolder) StandBroken(time.Time) {
	r.mu.Lock()
	*r.told = append(*r.told, r.name)
	r.mu.Unlock()
}

// A host's standings break in the order they were made, whichever of
// them were stopped (first, last, in between) or made since.
func TestStandBreakOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memory.MustNetwork()
		defer n.Close()
		h := n.Host("h")
		r := h.Registry()
		var mu sync.Mutex
		var told []string
		held := map[string]registry.Stand{}
		stand := func(name string) {
			svc := regService(name, "1.0", name)
			require.NoError(t, r.Register(t.Context(), svc, standRenew[0]))
			st, ok := r.(registry.Standing).Stand(svc, time.Now(), time.Second, 3*time.Second, recHolder{name, &mu, &told})
			require.True(t, ok)
			held[name] = st
		}
		for _, name := range []string{"a", "b", "c", "d", "e"} {
			stand(name)
		}
		held["c"].Stop() // in between
		held["a"].Stop() // the first
		held["e"].Stop() // the last
		stand("f")
		h.Pause()
		synctest.Wait()
		assert.Equal(t, []string{"b", "d", "f"}, told)

		h.Resume()
		told = nil
		stand("g")
		held["g"].Stop() // the only one
		stand("h")
		h.Crash()
		synctest.Wait()
		assert.Equal(t, []string{"h"}, told)
	})
}
