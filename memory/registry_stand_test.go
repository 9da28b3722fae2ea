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
func (sw *standWorld) stand() (func(), bool) {
	return sw.r.(registry.Standing).Stand(sw.svc, sw.start, time.Second, 3*time.Second, func(last time.Time) {
		sw.mu.Lock()
		sw.breaks = append(sw.breaks, last.Sub(sw.start))
		sw.mu.Unlock()
	})
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
		stop, ok := sw.stand()
		require.True(t, ok)
		sw.sleepTo(60*time.Second + 500*time.Millisecond)
		requireNoEvent(t, sw.w)
		got, err := sw.r.GetService(t.Context(), "svc")
		require.NoError(t, err)
		require.Len(t, got[0].Nodes, 1)

		stop()
		sw.sleepTo(63*time.Second - time.Nanosecond)
		requireNoEvent(t, sw.w)
		sw.sleepTo(63 * time.Second)
		ev := nextEvent(t, sw.w)
		require.Equal(t, registry.Delete, ev.Type)
		assert.Equal(t, 63*time.Second, ev.Timestamp.Sub(sw.start), "one TTL after the 60s tick, the last held")
		assert.Empty(t, sw.broken(), "stop does not call broken")
		stop() // a second stop does nothing
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
		nop := func(time.Time) {}

		_, ok := st.Stand(sw.svc, sw.start, time.Second, time.Second, nop)
		assert.False(t, ok, "a TTL no longer than the interval")
		_, ok = st.Stand(regService("svc", "1.0", "a"), sw.start, time.Second, 3*time.Second, nop)
		assert.False(t, ok, "an equal value the node was not registered from")
		_, ok = st.Stand(sw.svc, sw.start.Add(time.Second), time.Second, 3*time.Second, nop)
		assert.False(t, ok, "a tick after the registration")

		sw.h.Pause()
		_, ok = sw.stand()
		assert.False(t, ok, "a paused host")
		sw.h.Resume()
		stop, ok := sw.stand()
		require.True(t, ok)
		_, ok = sw.stand()
		assert.False(t, ok, "held already")
		stop()

		sw.h.Crash()
		_, ok = sw.stand()
		assert.False(t, ok, "a crashed host")
		assert.Empty(t, sw.broken())
	})
}
