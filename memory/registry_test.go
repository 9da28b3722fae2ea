package memory_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/registry/registrytest"
	"github.com/microsim/microsim/memory"
)

// watchedRegistry returns the registry of a new network and a watcher of
// all its events, both closed when the test ends.
func watchedRegistry(t *testing.T) (registry.Registry, registry.Watcher) {
	t.Helper()
	n := memory.MustNetwork()
	t.Cleanup(func() { _ = n.Close() })
	r := n.Registry()
	w, err := r.Watch(t.Context())
	require.NoError(t, err)
	t.Cleanup(w.Stop)
	return r, w
}

func newRegistrySuite(synctest bool) registrytest.Suite {
	return registrytest.Suite{
		New: func(t *testing.T) registry.Registry {
			n := memory.MustNetwork()
			t.Cleanup(func() { require.NoError(t, n.Close()) })
			return n.Registry()
		},
		Synctest: synctest,
		TTL:      100 * time.Millisecond,
		Wait:     5 * time.Second,
	}
}

func TestRegistryConformance(t *testing.T) { newRegistrySuite(true).Run(t) }

// The suite in real time, to check that it works there too.
func TestRegistryConformanceRealTime(t *testing.T) { newRegistrySuite(false).Run(t) }

func regService(name, version string, ids ...string) *registry.Service {
	s := &registry.Service{Name: name, Version: version, Metadata: map[string]string{"v": version}}
	for _, id := range ids {
		s.Nodes = append(s.Nodes, &registry.Node{ID: id, Address: id + ":1"})
	}
	return s
}

// nextEvent returns w's next event, failing if none is queued: in a bubble,
// after synctest.Wait, every event due has been emitted.
func nextEvent(t *testing.T, w registry.Watcher) *registry.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Nanosecond)
	defer cancel()
	ev, err := w.Next(ctx)
	require.NoError(t, err)
	return ev
}

func requireNoEvent(t *testing.T, w registry.Watcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Nanosecond)
	defer cancel()
	ev, err := w.Next(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded, "unexpected event %+v", ev)
}

// A crashed host's registry calls fail, while its nodes stay until their
// TTL passes and then expire with a Delete at exactly the TTL.
func TestRegistryCrashedHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memory.MustNetwork()
		defer n.Close()
		ctx := t.Context()
		a, b := n.Host("a"), n.Host("b")
		watch, err := b.Registry().Watch(ctx)
		require.NoError(t, err)
		defer watch.Stop()
		aWatch, err := a.Registry().Watch(ctx)
		require.NoError(t, err)
		defer aWatch.Stop()

		start := time.Now()
		svc := regService("greeter", "1.0", "a1")
		require.NoError(t, a.Registry().Register(ctx, svc, registry.WithTTL(10*time.Second)))
		require.Equal(t, registry.Create, nextEvent(t, watch).Type)
		require.Equal(t, registry.Create, nextEvent(t, aWatch).Type)

		time.Sleep(3 * time.Second)
		a.Crash()
		ar := a.Registry()
		require.ErrorIs(t, ar.Register(ctx, svc), registry.ErrUnavailable)
		require.ErrorIs(t, ar.Deregister(ctx, svc), registry.ErrUnavailable)
		_, err = ar.GetService(ctx, "greeter")
		require.ErrorIs(t, err, registry.ErrUnavailable)
		require.ErrorContains(t, err, `"a"`)
		_, err = ar.ListServices(ctx)
		require.ErrorIs(t, err, registry.ErrUnavailable)
		_, err = ar.Watch(ctx)
		require.ErrorIs(t, err, registry.ErrUnavailable)
		_, err = aWatch.Next(ctx)
		require.ErrorIs(t, err, registry.ErrUnavailable)

		// The node stays behind for the other hosts until its TTL.
		got, err := b.Registry().GetService(ctx, "greeter")
		require.NoError(t, err)
		require.Equal(t, []*registry.Service{svc}, got)

		ev, err := watch.Next(ctx)
		require.NoError(t, err)
		require.Equal(t, registry.Delete, ev.Type)
		require.Equal(t, svc, ev.Service)
		require.WithinDuration(t, start.Add(10*time.Second), ev.Timestamp, 0)
		require.WithinDuration(t, start.Add(10*time.Second), time.Now(), 0)
		_, err = b.Registry().GetService(ctx, "greeter")
		require.ErrorIs(t, err, registry.ErrNotFound)

		// After a restart the host's view works again, and its watcher
		// has kept the events of the downtime.
		a.Restart()
		_, err = ar.GetService(ctx, "greeter")
		require.ErrorIs(t, err, registry.ErrNotFound)
		require.Equal(t, registry.Delete, nextEvent(t, aWatch).Type)
	})
}

// Ordering and grouping are deterministic; a version takes its metadata
// from its most recently registered node.
func TestRegistryDeterministicOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memory.MustNetwork()
		defer n.Close()
		ctx, r := t.Context(), n.Registry()
		require.NoError(t, r.Register(ctx, regService("zeta", "2.0", "z3", "z1")))
		require.NoError(t, r.Register(ctx, regService("alpha", "1.0", "c", "a")))
		require.NoError(t, r.Register(ctx, regService("zeta", "1.0", "z2")))
		v2 := regService("zeta", "2.0", "z0")
		v2.Metadata["latest"] = "yes"
		require.NoError(t, r.Register(ctx, v2))

		list, err := r.ListServices(ctx)
		require.NoError(t, err)
		var names []string
		for _, s := range list {
			require.Nil(t, s.Nodes)
			names = append(names, s.Name+"@"+s.Version)
		}
		require.Equal(t, []string{"alpha@1.0", "zeta@1.0", "zeta@2.0"}, names)
		require.Equal(t, "yes", list[2].Metadata["latest"])

		got, err := r.GetService(ctx, "zeta")
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Equal(t, regService("zeta", "1.0", "z2"), got[0])
		want := regService("zeta", "2.0", "z0", "z1", "z3")
		want.Metadata["latest"] = "yes"
		require.Equal(t, want, got[1])
	})
}

// A renewal (a heartbeat) is not a registration: the node a version
// takes its metadata from stays the one registered last, as a Consul
// service's data stays that of its last modification while its checks
// pass, rather than flapping with every node's heartbeat.
func TestRegistryRenewalIsNotTheLatest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memory.MustNetwork()
		defer n.Close()
		ctx, r := t.Context(), n.Registry()
		ttl := registry.WithTTL(3 * time.Second)
		first := regService("svc", "1.0", "a")
		first.Metadata["from"] = "a"
		second := regService("svc", "1.0", "b")
		second.Metadata["from"] = "b"
		require.NoError(t, r.Register(ctx, first, ttl))
		require.NoError(t, r.Register(ctx, second, ttl))
		for _, opts := range [][]registry.RegisterOption{{ttl, registry.Renewal()}, {ttl}} {
			time.Sleep(time.Second)
			require.NoError(t, r.Register(ctx, first, opts...))
			got, err := r.GetService(ctx, "svc")
			require.NoError(t, err)
			require.Len(t, got[0].Nodes, 2)
			assert.Equal(t, "b", got[0].Metadata["from"], "a renewal of a, with Renewal %v", len(opts) == 2)
		}
	})
}

// Every watcher sees the same total order of events, across services and
// registering goroutines.
func TestRegistryTotalOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memory.MustNetwork()
		defer n.Close()
		ctx := t.Context()
		var watchers []registry.Watcher
		for i := range 3 {
			w, err := n.Host(fmt.Sprint("h", i)).Registry().Watch(ctx)
			require.NoError(t, err)
			defer w.Stop()
			watchers = append(watchers, w)
		}
		var wg sync.WaitGroup
		for g := range 10 {
			wg.Go(func() {
				r := n.Host(fmt.Sprint("h", g%3)).Registry()
				for i := range 20 {
					s := regService(fmt.Sprint("svc", i%4), "1.0", fmt.Sprint("g", g, "n", i))
					if err := r.Register(ctx, s); err != nil {
						t.Error(err)
					}
					if i%2 == 1 {
						if err := r.Deregister(ctx, s); err != nil {
							t.Error(err)
						}
					}
				}
			})
		}
		wg.Wait()
		synctest.Wait()
		seq := func(w registry.Watcher) []string {
			var out []string
			for range 300 {
				ev := nextEvent(t, w)
				out = append(out, ev.Type.String()+" "+ev.Service.Name+"/"+ev.Service.Nodes[0].ID)
			}
			requireNoEvent(t, w)
			return out
		}
		first := seq(watchers[0])
		require.Equal(t, first, seq(watchers[1]))
		require.Equal(t, first, seq(watchers[2]))
	})
}

// Update is emitted only when the data changes; a TTL change alone is a
// refresh, not an update.
func TestRegistryUpdateOnlyOnChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		r, w := watchedRegistry(t)
		s := regService("greeter", "1.0", "a")
		require.NoError(t, r.Register(ctx, s))
		require.Equal(t, registry.Create, nextEvent(t, w).Type)
		require.NoError(t, r.Register(ctx, s, registry.WithTTL(time.Second)))
		require.NoError(t, r.Register(ctx, s.Copy()))
		requireNoEvent(t, w)

		s.Nodes[0].Metadata = map[string]string{"zone": "b"}
		require.NoError(t, r.Register(ctx, s))
		ev := nextEvent(t, w)
		require.Equal(t, registry.Update, ev.Type)
		require.Equal(t, "b", ev.Service.Nodes[0].Metadata["zone"])

		// An endpoint's shape is data too: the same shape again is no
		// change, another one is.
		s.Endpoints = []*registry.Endpoint{{Name: "G.H", RequestShape: &registry.Shape{Type: "object"}}}
		require.NoError(t, r.Register(ctx, s))
		require.Equal(t, registry.Update, nextEvent(t, w).Type)
		same := s.Copy()
		require.NoError(t, r.Register(ctx, same))
		requireNoEvent(t, w)
		same.Endpoints[0].RequestShape.Fields = []*registry.Field{{Name: "name", Shape: registry.Shape{Type: "string"}}}
		require.NoError(t, r.Register(ctx, same))
		ev = nextEvent(t, w)
		require.Equal(t, registry.Update, ev.Type)
		require.Equal(t, "name", ev.Service.Endpoints[0].RequestShape.Fields[0].Name)

		// TTL 0 on the last Register: the node never expires.
		time.Sleep(time.Hour)
		requireNoEvent(t, w)

		err := r.Register(ctx, s, registry.WithTTL(-time.Second))
		require.ErrorIs(t, err, registry.ErrInvalid)
		require.ErrorIs(t, r.Deregister(ctx, nil), registry.ErrInvalid)
	})
}

// A call whose ctx is done returns exactly ctx.Err().
func TestRegistryContextDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, w := watchedRegistry(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		s := regService("greeter", "1.0", "a")
		require.Equal(t, context.Canceled, r.Register(ctx, s))
		require.Equal(t, context.Canceled, r.Deregister(ctx, s))
		_, err := r.GetService(ctx, "greeter")
		require.Equal(t, context.Canceled, err)
		_, err = r.ListServices(ctx)
		require.Equal(t, context.Canceled, err)
		_, err = r.Watch(ctx)
		require.Equal(t, context.Canceled, err)
		_, err = w.Next(ctx)
		require.Equal(t, context.Canceled, err)
	})
}

// Network.Close stops the watchers and the TTL timers; the registry is
// unavailable afterwards.
func TestRegistryNetworkClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memory.MustNetwork()
		ctx, r := t.Context(), n.Registry()
		w, err := r.Watch(ctx)
		require.NoError(t, err)
		require.NoError(t, r.Register(ctx, regService("greeter", "1.0", "a"), registry.WithTTL(time.Second)))
		require.Equal(t, registry.Create, nextEvent(t, w).Type)
		done := make(chan error, 1)
		go func() { _, err := w.Next(ctx); done <- err }()
		synctest.Wait()
		require.NoError(t, n.Close())
		require.ErrorIs(t, <-done, registry.ErrWatcherStopped)
		require.NoError(t, n.Close())
		time.Sleep(time.Hour) // no timer fires into a closed registry
		n.Host(memory.DefaultHost).Restart()
		_, err = r.ListServices(ctx)
		require.ErrorIs(t, err, registry.ErrUnavailable)
	})
}

// Two networks share nothing.
func TestRegistryIsolation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n1, n2 := memory.MustNetwork(), memory.MustNetwork()
		defer n1.Close()
		defer n2.Close()
		ctx := t.Context()
		w2, err := n2.Registry().Watch(ctx)
		require.NoError(t, err)
		defer w2.Stop()
		require.NoError(t, n1.Registry().Register(ctx, regService("greeter", "1.0", "a"), registry.WithTTL(time.Second)))
		_, err = n2.Registry().GetService(ctx, "greeter")
		require.ErrorIs(t, err, registry.ErrNotFound)
		list, err := n2.Registry().ListServices(ctx)
		require.NoError(t, err)
		require.Empty(t, list)
		time.Sleep(2 * time.Second)
		requireNoEvent(t, w2)
	})
}

// A heartbeat is told from a change however the caller changed its
// Service: each field changed in place in the very Service registered
// before makes an Update that carries it, and registering it again
// unchanged makes none. A nil map or endpoint list and an empty one are
// the same registration.
func TestRegistryHeartbeatSeesChangesInPlace(t *testing.T) {
	changes := map[string]func(s *registry.Service){
		"version":              func(s *registry.Service) { s.Version = "2" },
		"service metadata":     func(s *registry.Service) { s.Metadata["team"] = "y" },
		"service metadata key": func(s *registry.Service) { delete(s.Metadata, "team"); s.Metadata["owner"] = "x" },
		"address":              func(s *registry.Service) { s.Nodes[0].Address = "a:2" },
		"node metadata":        func(s *registry.Service) { s.Nodes[0].Metadata["zone"] = "y" },
		"node metadata added":  func(s *registry.Service) { s.Nodes[0].Metadata["hot"] = "1" },
		"endpoint name":        func(s *registry.Service) { s.Endpoints[0].Name = "G.Bye" },
		"endpoint request":     func(s *registry.Service) { s.Endpoints[0].Request = "Other" },
		"endpoint response":    func(s *registry.Service) { s.Endpoints[0].Response = "Other" },
		"endpoint metadata":    func(s *registry.Service) { s.Endpoints[1].Metadata["stream"] = "false" },
		"endpoint nil":         func(s *registry.Service) { s.Endpoints[1] = nil },
		"endpoint added":       func(s *registry.Service) { s.Endpoints = append(s.Endpoints, &registry.Endpoint{Name: "G.New"}) },
		"endpoint removed":     func(s *registry.Service) { s.Endpoints = s.Endpoints[:1] },
		"shape field":          func(s *registry.Service) { s.Endpoints[0].RequestShape.Fields[0].Type = "integer" },
		"shape added":          func(s *registry.Service) { s.Endpoints[1].ResponseShape = &registry.Shape{Type: "string"} },
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				r, w := watchedRegistry(t)
				svc := &registry.Service{Name: "greeter", Version: "1", Metadata: map[string]string{"team": "x"},
					Endpoints: []*registry.Endpoint{
						{Name: "G.Hello", Request: "Req", Response: "Rsp", RequestShape: &registry.Shape{Type: "object",
							Fields: []*registry.Field{{Name: "name", Shape: registry.Shape{Type: "string"}}}}},
						{Name: "G.Stream", Metadata: map[string]string{"stream": "true"}}},
					Nodes: []*registry.Node{{ID: "a-1", Address: "a:1", Metadata: map[string]string{"zone": "z"}}}}
				ttl := registry.WithTTL(3 * time.Second)
				require.NoError(t, r.Register(ctx, svc, ttl))
				require.Equal(t, registry.Create, nextEvent(t, w).Type)
				require.NoError(t, r.Register(ctx, svc, ttl))
				requireNoEvent(t, w)

				change(svc)
				require.NoError(t, r.Register(ctx, svc, ttl))
				ev := nextEvent(t, w)
				require.Equal(t, registry.Update, ev.Type)
				require.Equal(t, svc, ev.Service)
				require.NoError(t, r.Register(ctx, svc, ttl))
				requireNoEvent(t, w)
			})
		})
	}
	t.Run("nil and empty", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := t.Context()
			r, w := watchedRegistry(t)
			svc := &registry.Service{Name: "greeter", Nodes: []*registry.Node{{ID: "a-1", Address: "a:1"}}}
			ttl := registry.WithTTL(3 * time.Second)
			require.NoError(t, r.Register(ctx, svc, ttl))
			require.Equal(t, registry.Create, nextEvent(t, w).Type)
			svc.Metadata, svc.Nodes[0].Metadata, svc.Endpoints = map[string]string{}, map[string]string{}, []*registry.Endpoint{}
			require.NoError(t, r.Register(ctx, svc, ttl))
			requireNoEvent(t, w)
		})
	})
}

// TestRegistryExpiresEachNodeOnTime: nodes whose heartbeats stop at
// different times each expire exactly one TTL after their last
// registration, whatever the others do: a heartbeat with a longer TTL
// keeps its node longer, one with a shorter TTL lets it go sooner, a
// changed registration starts its TTL again, and a node registered
// without a TTL stays.
func TestRegistryExpiresEachNodeOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		r, w := watchedRegistry(t)

		start := time.Now()
		const nodes = 40
		ttl := 3 * time.Second
		gone := make(map[string]time.Duration)
		want := make(map[string]time.Duration)
		// Node i beats every second until second i/4, with the TTL of 3s;
		// the last beat sets the TTL the node then expires by.
		for sec := 0; sec <= nodes/4; sec++ {
			for i := range nodes {
				if sec > i/4 {
					continue
				}
				id := fmt.Sprintf("n%02d", i)
				last := ttl
				if sec == i/4 {
					last = []time.Duration{ttl, 5 * time.Second, time.Second, ttl}[i%4]
				}
				svc := regService("svc", "1.0", id)
				if sec == i/4 && i%4 == 3 {
					svc.Nodes[0].Metadata = map[string]string{"changed": "yes"} // an Update, its TTL anew
				}
				require.NoError(t, r.Register(ctx, svc, registry.WithTTL(last)))
				want[id] = time.Since(start) + last
			}
			require.NoError(t, r.Register(ctx, regService("svc", "1.0", "forever")))
			// Collect the expiries of this second.
			for range 10 {
				time.Sleep(100 * time.Millisecond)
				synctest.Wait()
				drainDeletes(t, w, start, gone)
			}
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		drainDeletes(t, w, start, gone)
		assert.Equal(t, want, gone, "each node expired exactly at its last registration plus its TTL")
		services, err := r.GetService(ctx, "svc")
		require.NoError(t, err)
		require.Len(t, services, 1)
		require.Len(t, services[0].Nodes, 1)
		assert.Equal(t, "forever", services[0].Nodes[0].ID)
	})
}

// drainDeletes records, for each Delete queued on w, when it came (since
// start) by node ID.
func drainDeletes(t *testing.T, w registry.Watcher, start time.Time, gone map[string]time.Duration) {
	t.Helper()
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Nanosecond)
		ev, err := w.Next(ctx)
		cancel()
		if err != nil {
			return
		}
		if ev.Type == registry.Delete {
			gone[ev.Service.Nodes[0].ID] = ev.Timestamp.Sub(start)
		}
	}
}

// TestRegistryExpiryFollowsTheLastRegistration: a node registered with a
// TTL and then again, changed, without one stays; a node registered
// again, changed, at the very instant of its first registration (two
// expiry entries of one time) expires once, one TTL later; a node
// removed and registered anew is not expired by its first
// registration's TTL.
func TestRegistryExpiryFollowsTheLastRegistration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		r, w := watchedRegistry(t)
		ttl := registry.WithTTL(3 * time.Second)
		changed := func(id string) *registry.Service {
			s := regService("svc", "1.0", id)
			s.Nodes[0].Metadata = map[string]string{"changed": "yes"}
			return s
		}

		start := time.Now()
		require.NoError(t, r.Register(ctx, regService("svc", "1.0", "kept"), ttl))
		require.NoError(t, r.Register(ctx, regService("svc", "1.0", "twice"), ttl))
		require.NoError(t, r.Register(ctx, changed("twice"), ttl))
		require.NoError(t, r.Register(ctx, regService("svc", "1.0", "reborn"), ttl))
		time.Sleep(time.Second)
		require.NoError(t, r.Register(ctx, changed("kept"))) // no TTL now
		require.NoError(t, r.Deregister(ctx, regService("svc", "1.0", "reborn")))
		require.NoError(t, r.Register(ctx, regService("svc", "1.0", "reborn"), registry.WithTTL(10*time.Second)))
		reborn := time.Since(start)

		gone := make(map[string]time.Duration)
		time.Sleep(20 * time.Second)
		synctest.Wait()
		drainDeletes(t, w, start, gone)
		assert.Equal(t, map[string]time.Duration{"twice": 3 * time.Second, "reborn": reborn + 10*time.Second}, gone)
		services, err := r.GetService(ctx, "svc")
		require.NoError(t, err)
		require.Len(t, services, 1)
		require.Len(t, services[0].Nodes, 1)
		assert.Equal(t, "kept", services[0].Nodes[0].ID)
	})
}

// A renewal (registry.Renewal) of the *Service a node was registered
// from moves only its expiry: the node lives on one TTL after each
// renewal, with no event. A renewal the registry cannot match to that
// value is a registration in full: a node that expired is created again,
// and another value with a change makes an Update. A renewal is taken at
// its word: a change made in place to the value it names goes unseen
// until the value is registered without Renewal.
func TestRegistryRenewal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		r, w := watchedRegistry(t)
		renew := []registry.RegisterOption{registry.WithTTL(3 * time.Second), registry.Renewal()}
		start := time.Now()

		svc := regService("svc", "1.0", "a")
		require.NoError(t, r.Register(ctx, svc, renew[0]))
		require.Equal(t, registry.Create, nextEvent(t, w).Type)
		for range 5 {
			time.Sleep(2 * time.Second)
			require.NoError(t, r.Register(ctx, svc, renew...))
		}
		requireNoEvent(t, w)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		ev := nextEvent(t, w)
		require.Equal(t, registry.Delete, ev.Type)
		assert.Equal(t, 13*time.Second, ev.Timestamp.Sub(start), "expired one TTL after the last renewal")

		require.NoError(t, r.Register(ctx, svc, renew...))
		assert.Equal(t, registry.Create, nextEvent(t, w).Type, "a renewal of an expired node registers it")

		other := regService("svc", "1.0", "a")
		other.Nodes[0].Metadata = map[string]string{"zone": "b"}
		require.NoError(t, r.Register(ctx, other, renew...))
		ev = nextEvent(t, w)
		require.Equal(t, registry.Update, ev.Type, "a renewal from another value with a change")
		assert.Equal(t, "b", ev.Service.Nodes[0].Metadata["zone"])
		require.NoError(t, r.Register(ctx, svc, renew...))
		ev = nextEvent(t, w)
		require.Equal(t, registry.Update, ev.Type, "the old value is compared, not trusted, once another was registered")
		assert.Empty(t, ev.Service.Nodes[0].Metadata)

		svc.Nodes[0].Metadata = map[string]string{"zone": "c"}
		require.NoError(t, r.Register(ctx, svc, renew...))
		requireNoEvent(t, w)
		require.NoError(t, r.Register(ctx, svc, renew[0]))
		ev = nextEvent(t, w)
		require.Equal(t, registry.Update, ev.Type, "the change, registered without Renewal")
		assert.Equal(t, "c", ev.Service.Nodes[0].Metadata["zone"])

		require.NoError(t, r.Deregister(ctx, svc))
		require.Equal(t, registry.Delete, nextEvent(t, w).Type)
		require.NoError(t, r.Register(ctx, svc, renew...))
		require.Equal(t, registry.Create, nextEvent(t, w).Type, "a renewal after a deregistration")
	})
}
