package registrytest

import (
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
)

// testTTLRefresh: registering again (a heartbeat) keeps a node alive well
// past its first TTL without emitting events; once the heartbeats stop it
// expires, no sooner than TTL after the last one.
func testTTLRefresh(w *world) {
	t := w.t
	ttl := w.s.TTL
	name := w.name("greeter")
	s := service(name, "1.0", node("a"))
	wt := w.watch(registry.WatchService(name))

	start := time.Now()
	w.register(s, registry.WithTTL(ttl))
	w.requireEvent(wt, registry.Create, name, "a")
	var last time.Time
	for time.Since(start) < 2*ttl {
		time.Sleep(ttl / 3) // the heartbeat's pace, not a wait for a result
		last = time.Now()
		require.NoError(t, w.r.Register(w.ctx, s, registry.WithTTL(ttl)), "heartbeat")
		require.Equal(t, []*registry.Service{s}, w.get(name), "alive after %v", time.Since(start))
	}
	require.GreaterOrEqual(t, time.Since(start), 2*ttl)

	// No Update for an unchanged heartbeat: the next event is the expiry.
	w.requireEventWithin(wt, ttl+w.wait, registry.Delete, name, "a")
	require.GreaterOrEqual(t, time.Since(last), ttl, "expired early")
	w.requireNotFound(name)
}

// testTTLExpiry: a node whose TTL passes is removed with a Delete event,
// no sooner than its TTL; a node without TTL stays.
func testTTLExpiry(w *world) {
	t := w.t
	ttl := w.s.TTL
	name := w.name("greeter")
	wt := w.watch(registry.WatchService(name))

	start := time.Now()
	w.register(service(name, "1.0", node("mortal")), registry.WithTTL(ttl))
	w.register(service(name, "1.0", node("immortal")))
	w.requireEvent(wt, registry.Create, name, "mortal")
	w.requireEvent(wt, registry.Create, name, "immortal")

	ev := w.requireEventWithin(wt, ttl+w.wait, registry.Delete, name, "mortal")
	require.GreaterOrEqual(t, time.Since(start), ttl, "expired early")
	require.False(t, ev.Timestamp.Before(start), "event timestamp %v before the registration at %v", ev.Timestamp, start)
	require.Equal(t, []*registry.Service{service(name, "1.0", node("immortal"))}, w.get(name))

	// The immortal node outlives several TTLs.
	time.Sleep(2 * ttl)
	require.Equal(t, []*registry.Service{service(name, "1.0", node("immortal"))}, w.get(name))
	w.requireQuiet(wt)
}
