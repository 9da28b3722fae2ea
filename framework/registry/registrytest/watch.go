package registrytest

import (
	"context"
	"fmt"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
)

// testWatchBurst: a burst of 500 Create, Update and Delete events, read
// only after it is over and then slowly, reaches a watcher of the service
// and a watcher of all services complete and in order.
func testWatchBurst(w *world) {
	t := w.t
	const n = 500
	name := w.name("burst")
	one := w.watch(registry.WatchService(name))
	all := w.watch()

	id := func(i int) string { return fmt.Sprintf("n%03d", i/3) }
	svc := func(i int) *registry.Service {
		nd := node(id(i))
		nd.Metadata["rev"] = fmt.Sprint(i % 3)
		return service(name, "1.0", nd)
	}
	w.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), w.wait)
		defer cancel()
		_ = w.r.Deregister(ctx, svc(n-1))
	})
	for i := range n {
		// Per node: Create (rev 0), Update (rev 1), Delete.
		var err error
		if i%3 == 2 {
			err = w.r.Deregister(w.ctx, svc(i))
		} else {
			err = w.r.Register(w.ctx, svc(i))
		}
		require.NoError(t, err, "operation %d", i)
	}

	types := [3]registry.EventType{registry.Create, registry.Update, registry.Delete}
	for _, x := range []struct {
		what string
		wt   registry.Watcher
	}{{"service watcher", one}, {"all-services watcher", all}} {
		what, wt := x.what, x.wt
		var last time.Time
		for i := range n {
			if w.s.Synctest {
				time.Sleep(time.Millisecond) // a slow reader, in virtual time
			}
			ev := w.next(wt, w.wait)
			require.Equal(t, types[i%3], ev.Type, "%s: event %d", what, i)
			require.Len(t, ev.Service.Nodes, 1, "%s: event %d", what, i)
			require.Equal(t, id(i), ev.Service.Nodes[0].ID, "%s: event %d", what, i)
			if i%3 != 2 {
				require.Equal(t, fmt.Sprint(i%3), ev.Service.Nodes[0].Metadata["rev"], "%s: event %d", what, i)
			}
			require.False(t, ev.Timestamp.Before(last), "%s: event %d: timestamps go back", what, i)
			last = ev.Timestamp
		}
		w.requireQuiet(wt)
	}
}

// testWatchService: a watcher of one service sees only its events; a
// watcher of all services sees each service's events in order.
func testWatchService(w *world) {
	t := w.t
	a, b := w.name("a"), w.name("b")
	wa := w.watch(registry.WatchService(a))
	all := w.watch()

	w.register(service(b, "1.0", node("b1")))
	w.register(service(a, "1.0", node("a1")))
	w.register(service(b, "2.0", node("b1")))
	require.NoError(t, w.r.Deregister(w.ctx, service(b, "2.0", node("b1"))))
	require.NoError(t, w.r.Deregister(w.ctx, service(a, "1.0", node("a1"))))

	w.requireEvent(wa, registry.Create, a, "a1")
	w.requireEvent(wa, registry.Delete, a, "a1")
	w.requireQuiet(wa)

	got := map[string][]registry.EventType{}
	for range 5 {
		ev := w.next(all, w.wait)
		got[ev.Service.Name] = append(got[ev.Service.Name], ev.Type)
	}
	require.Equal(t, map[string][]registry.EventType{
		a: {registry.Create, registry.Delete},
		b: {registry.Create, registry.Update, registry.Delete},
	}, got)
	w.requireQuiet(all)
}

// testWatchStop: Stop ends a waiting Next and every later one with
// ErrWatcherStopped, and is idempotent.
func testWatchStop(w *world) {
	t := w.t
	name := w.name("greeter")
	wt := w.watch(registry.WatchService(name))
	pending := w.goNext(w.ctx, wt)
	w.settle()
	wt.Stop()
	r := w.await(pending)
	require.ErrorIs(t, r.err, registry.ErrWatcherStopped)
	require.Nil(t, r.ev)

	// Events after Stop neither reach the watcher nor block the registry.
	w.register(service(name, "1.0", node("a")))
	_, err := wt.Next(w.ctx)
	require.ErrorIs(t, err, registry.ErrWatcherStopped)
	wt.Stop()
	_, err = wt.Next(w.ctx)
	require.ErrorIs(t, err, registry.ErrWatcherStopped)

	// A watcher stopped with events queued returns none of them.
	wt2 := w.watch(registry.WatchService(name))
	require.NoError(t, w.r.Deregister(w.ctx, service(name, "1.0", node("a"))))
	wt2.Stop()
	_, err = wt2.Next(w.ctx)
	require.ErrorIs(t, err, registry.ErrWatcherStopped)
}

// testWatchContext: a Next ended by its ctx returns the ctx's error and
// leaves the watcher usable.
func testWatchContext(w *world) {
	t := w.t
	name := w.name("greeter")
	wt := w.watch(registry.WatchService(name))

	short, cancelShort := context.WithTimeout(w.ctx, short)
	defer cancelShort()
	_, err := wt.Next(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	ctx, cancel := context.WithCancel(w.ctx)
	pending := w.goNext(ctx, wt)
	w.settle()
	cancel()
	r := w.await(pending)
	require.ErrorIs(t, r.err, context.Canceled)
	require.Nil(t, r.ev)

	_, err = wt.Next(ctx) // already cancelled
	require.ErrorIs(t, err, context.Canceled)

	w.register(service(name, "1.0", node("a")))
	w.requireEvent(wt, registry.Create, name, "a")
}

// testTTLRefresh: registering again (a heartbeat) keeps a node alive well
// past its first TTL without emitting events; once the heartbeats stop it
// expires, no sooner than TTL after the last one.
func testTTLRefresh(w *world) {
	name := w.name("greeter")
	w.beatUntilExpired(name, service(name, "1.0", node("a")), registry.WithTTL(w.s.TTL))
	w.requireNotFound(name)
}

// testTTLRenewal: heartbeats marked registry.Renewal, of the very Service
// registered, keep the node alive without events as plain ones do; once
// they stop it expires, no sooner than TTL after the last; a renewal of
// the expired node registers it again (a Create). A registry may take a
// renewal as a registration in full: the outcome is the same.
func testTTLRenewal(w *world) {
	name := w.name("greeter")
	s := service(name, "1.0", node("a"))
	renew := []registry.RegisterOption{registry.WithTTL(w.s.TTL), registry.Renewal()}
	wt := w.beatUntilExpired(name, s, renew...)

	require.NoError(w.t, w.r.Register(w.ctx, s, renew...), "renewal of the expired node")
	w.requireEvent(wt, registry.Create, name, "a")
	require.Equal(w.t, []*registry.Service{s}, w.get(name))
}

// beatUntilExpired registers s, service name with one node, with the
// suite's TTL, registers it again with beat every third of a TTL for two
// TTLs, checking it is alive each time, then requires its expiry (a
// Delete, the only event after the Create) no sooner than a TTL after the
// last beat. It returns the watcher of name's events.
func (w *world) beatUntilExpired(name string, s *registry.Service, beat ...registry.RegisterOption) registry.Watcher {
	t := w.t
	ttl := w.s.TTL
	id := s.Nodes[0].ID
	wt := w.watch(registry.WatchService(name))

	start := time.Now()
	w.register(s, registry.WithTTL(ttl))
	w.requireEvent(wt, registry.Create, name, id)
	var last time.Time
	for time.Since(start) < 2*ttl {
		time.Sleep(ttl / 3) // the heartbeat's pace, not a wait for a result
		last = time.Now()
		require.NoError(t, w.r.Register(w.ctx, s, beat...), "heartbeat")
		require.Equal(t, []*registry.Service{s}, w.get(name), "alive after %v", time.Since(start))
	}
	require.GreaterOrEqual(t, time.Since(start), 2*ttl)

	// No Update for an unchanged heartbeat: the next event is the expiry.
	w.requireEventWithin(wt, ttl+w.wait, registry.Delete, name, id)
	require.GreaterOrEqual(t, time.Since(last), ttl, "expired early")
	return wt
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
