package consul_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/registry/consul"
)

// newRegistry returns a registry on the shared agent, closed at cleanup.
func newRegistry(t *testing.T, opts ...consul.Option) *consul.Registry {
	t.Helper()
	addr := consulAddr(t)
	r, err := consul.New(&api.Config{Address: addr}, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.Close()) })
	return r
}

var serviceSeq atomic.Int64

// uniqueName returns a service name no other test of this binary uses
// (the binary shares one agent).
func uniqueName(t *testing.T) string {
	base := strings.NewReplacer("/", "-", "_", "-").Replace(strings.ToLower(t.Name()))
	return fmt.Sprintf("%s-%d", base, serviceSeq.Add(1))
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// nextEvent waits for the next event of w for at most d.
func nextEvent(t *testing.T, w registry.Watcher, d time.Duration) *registry.Event {
	t.Helper()
	ev, err := w.Next(ctxT(t, d))
	require.NoError(t, err)
	return ev
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	r := newRegistry(t)
	ctx := ctxT(t, 10*time.Second)
	name := uniqueName(t)
	long := strings.Repeat("é-ünïcødé-🙂-", 200) // crosses many 512-byte chunk boundaries
	s := &registry.Service{
		Name:     name,
		Version:  "1.2.3",
		Metadata: map[string]string{"owner": "team a", "weird key: /?&=%": long, "empty": ""},
		Endpoints: []*registry.Endpoint{
			{Name: "Greeter.Hello", Request: "HelloRequest", Response: "HelloResponse",
				Metadata: map[string]string{"stream": "false", "doc": long}},
			{Name: "Greeter.Empty", Metadata: map[string]string{}},
		},
		Nodes: []*registry.Node{
			{ID: "n1/with:odd chars?", Address: "127.0.0.1:8081", Metadata: map[string]string{"zone": "a", "blob": long}},
			{ID: "n2", Address: "[::1]:8082", Metadata: map[string]string{}},
			{ID: "n3", Address: "unix:///tmp/sock"},
		},
	}
	require.NoError(t, r.Register(ctx, s, registry.WithTTL(time.Minute)))

	got, err := r.GetService(ctx, name)
	require.NoError(t, err)
	require.Equal(t, []*registry.Service{s}, got)

	list, err := r.ListServices(ctx)
	require.NoError(t, err)
	require.Contains(t, list, s.CopyWithoutNodes())

	// Nodes are Consul instances with their address split out.
	entries, _, err := r.Client().Health().Service(name, consul.DefaultTag, true, (&api.QueryOptions{}).WithContext(ctx))
	require.NoError(t, err)
	require.Len(t, entries, 3)
	for _, e := range entries {
		if strings.HasSuffix(e.Service.ID, ":n2") {
			require.Equal(t, "::1", e.Service.Address)
			require.Equal(t, 8082, e.Service.Port)
		}
		for k, v := range e.Service.Meta {
			require.LessOrEqual(t, len(k), 64)
			require.LessOrEqual(t, len(v), 512)
		}
	}

	require.NoError(t, r.Deregister(ctx, s))
	_, err = r.GetService(ctx, name)
	require.ErrorIs(t, err, registry.ErrNotFound)
	require.NoError(t, r.Deregister(ctx, s), "deregistering unknown nodes is not an error")
}

func TestNilAndEmptyRoundTrip(t *testing.T) {
	t.Parallel()
	r := newRegistry(t)
	ctx := ctxT(t, 10*time.Second)
	name := uniqueName(t)
	a := &registry.Service{Name: name, Version: "a", Nodes: []*registry.Node{{ID: "1", Address: "h:1"}}}
	b := &registry.Service{Name: name, Version: "b", Metadata: map[string]string{}, Endpoints: []*registry.Endpoint{},
		Nodes: []*registry.Node{{ID: "2", Address: "h:2", Metadata: map[string]string{}}}}
	require.NoError(t, r.Register(ctx, a))
	require.NoError(t, r.Register(ctx, b))
	t.Cleanup(func() { _ = r.Deregister(context.Background(), a); _ = r.Deregister(context.Background(), b) })
	got, err := r.GetService(ctx, name)
	require.NoError(t, err)
	require.Equal(t, []*registry.Service{a, b}, got)
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	r, err := consul.New(&api.Config{Address: "127.0.0.1:1"})
	require.NoError(t, err)
	defer r.Close()
	ctx := ctxT(t, 5*time.Second)
	for name, s := range map[string]*registry.Service{
		"nil":       nil,
		"no nodes":  {Name: "x"},
		"bad utf-8": {Name: "x", Metadata: map[string]string{"k": "\xff"}, Nodes: []*registry.Node{{ID: "1", Address: "a:1"}}},
		"too large": {Name: "x", Metadata: map[string]string{"k": strings.Repeat("x", 40<<10)}, Nodes: []*registry.Node{{ID: "1", Address: "a:1"}}},
	} {
		require.ErrorIs(t, r.Register(ctx, s), registry.ErrInvalid, name)
	}
	_, err = consul.New(nil, consul.WithDeregisterAfter(time.Second))
	require.Error(t, err)
	_, err = consul.New(nil, consul.WithTag(""))
	require.Error(t, err)
}

// TestExpiry: a node kept alive by re-registration stays past its TTL; when
// the heartbeat stops its check goes critical, GetService stops returning it
// and a watcher gets Delete — long before Consul reaps it from the catalog.
func TestExpiry(t *testing.T) {
	t.Parallel()
	r := newRegistry(t)
	ctx := ctxT(t, 30*time.Second)
	name := uniqueName(t)
	const ttl = time.Second
	s := &registry.Service{Name: name, Version: "v1", Nodes: []*registry.Node{{ID: "n1", Address: "127.0.0.1:9000"}}}
	t.Cleanup(func() { _ = r.Deregister(context.Background(), s) })

	w, err := r.Watch(ctx, registry.WatchService(name))
	require.NoError(t, err)
	defer w.Stop()
	require.NoError(t, r.Register(ctx, s, registry.WithTTL(ttl)))
	ev := nextEvent(t, w, 5*time.Second)
	require.Equal(t, registry.Create, ev.Type)
	require.Equal(t, s, ev.Service)

	// Heartbeat for three TTLs: the node stays, and no event is emitted.
	start := time.Now()
	for time.Since(start) < 3*ttl {
		require.NoError(t, r.Register(ctx, s, registry.WithTTL(ttl)))
		got, err := r.GetService(ctx, name)
		require.NoError(t, err)
		require.Equal(t, []*registry.Service{s}, got)
		select {
		case <-time.After(ttl / 4):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	_, err = w.Next(ctxT(t, 10*time.Millisecond))
	require.ErrorIs(t, err, context.DeadlineExceeded, "heartbeats emit no event")

	// Stop heartbeating: Delete arrives about one TTL later.
	stopped := time.Now()
	ev, err = w.Next(ctxT(t, 10*time.Second))
	if err != nil {
		// Seen once, on a loaded CI machine: say whether the agent never
		// marked the check critical or the watcher missed that it did.
		checks, _, cerr := r.Client().Health().Checks(name, (&api.QueryOptions{}).WithContext(ctx))
		for _, c := range checks {
			t.Logf("check %s: %s (%q)", c.CheckID, c.Status, c.Output)
		}
		t.Fatalf("no Delete %v after the last heartbeat: %v (checks: %d, %v)", time.Since(stopped), err, len(checks), cerr)
	}
	require.Equal(t, registry.Delete, ev.Type)
	require.Equal(t, s, ev.Service)
	t.Logf("Delete %v after the last heartbeat", time.Since(stopped))
	require.Less(t, time.Since(stopped), ttl+3*time.Second)
	_, err = r.GetService(ctx, name)
	require.ErrorIs(t, err, registry.ErrNotFound)
	list, err := r.ListServices(ctx)
	require.NoError(t, err)
	require.NotContains(t, list, s.CopyWithoutNodes())

	// The instance is still in Consul's catalog, critical.
	checks, _, err := r.Client().Health().Checks(name, (&api.QueryOptions{}).WithContext(ctx))
	require.NoError(t, err)
	require.Len(t, checks, 1)
	require.Equal(t, api.HealthCritical, checks[0].Status)

	// A heartbeat after expiry brings the node back.
	require.NoError(t, r.Register(ctx, s, registry.WithTTL(ttl)))
	ev = nextEvent(t, w, 5*time.Second)
	require.Equal(t, registry.Create, ev.Type)
	require.NoError(t, r.Register(ctx, s)) // TTL 0: the check goes away
	require.NoError(t, r.Register(ctx, s))
	checks, _, err = r.Client().Health().Checks(name, (&api.QueryOptions{}).WithContext(ctx))
	require.NoError(t, err)
	require.Empty(t, checks)
}

func TestWatchAll(t *testing.T) {
	t.Parallel()
	r := newRegistry(t)
	other := newRegistry(t, consul.WithTag("other-world"))
	ctx := ctxT(t, 30*time.Second)
	a := &registry.Service{Name: uniqueName(t), Version: "1", Nodes: []*registry.Node{{ID: "a1", Address: "127.0.0.1:1"}}}
	b := &registry.Service{Name: uniqueName(t), Version: "1", Nodes: []*registry.Node{{ID: "b1", Address: "127.0.0.1:2"}}}
	t.Cleanup(func() {
		_ = r.Deregister(context.Background(), a)
		_ = r.Deregister(context.Background(), b)
		_ = other.Deregister(context.Background(), a)
	})

	w, err := r.Watch(ctx)
	require.NoError(t, err)
	defer w.Stop()
	require.NoError(t, other.Register(ctx, a)) // another tag: invisible
	require.NoError(t, r.Register(ctx, a))
	require.NoError(t, r.Register(ctx, b))

	// Events of other tests' services may be interleaved: filter ours.
	mine := func() *registry.Event {
		for {
			ev := nextEvent(t, w, 10*time.Second)
			if ev.Service.Name == a.Name || ev.Service.Name == b.Name {
				return ev
			}
		}
	}
	seen := map[string]registry.EventType{}
	for range 2 {
		ev := mine()
		seen[ev.Service.Nodes[0].ID] = ev.Type
	}
	require.Equal(t, map[string]registry.EventType{"a1": registry.Create, "b1": registry.Create}, seen)

	a2 := a.Copy()
	a2.Metadata = map[string]string{"changed": "yes"}
	require.NoError(t, r.Register(ctx, a2))
	ev := mine()
	require.Equal(t, registry.Update, ev.Type)
	require.Equal(t, a2, ev.Service)

	require.NoError(t, r.Deregister(ctx, a2))
	ev = mine()
	require.Equal(t, registry.Delete, ev.Type)
	require.Equal(t, a2, ev.Service)

	// A service that left the catalog and comes back is seen again.
	require.NoError(t, r.Register(ctx, a))
	ev = mine()
	require.Equal(t, registry.Create, ev.Type)
	require.Equal(t, a, ev.Service)

	w.Stop()
	_, err = w.Next(ctx)
	require.ErrorIs(t, err, registry.ErrWatcherStopped)
	w.Stop()
}

func TestCloseStopsWatchers(t *testing.T) {
	t.Parallel()
	addr := consulAddr(t)
	r, err := consul.New(&api.Config{Address: addr})
	require.NoError(t, err)
	ctx := ctxT(t, 10*time.Second)
	w, err := r.Watch(ctx, registry.WatchService(uniqueName(t)))
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() { _, err := w.Next(ctx); errc <- err }()
	require.NoError(t, r.Close())
	require.NoError(t, r.Close())
	select {
	case err := <-errc:
		require.ErrorIs(t, err, registry.ErrWatcherStopped)
	case <-ctx.Done():
		t.Fatal("Next did not return after Close")
	}
	_, err = r.GetService(ctx, "x")
	require.ErrorIs(t, err, registry.ErrUnavailable)
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// hungAddr returns a loopback address that accepts connections and never
// answers.
func hungAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}

// TestUnavailable: every method fails with ErrUnavailable within its ctx,
// whether Consul refuses connections or never answers.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	for name, addr := range map[string]string{"refused": closedAddr(t), "hung": hungAddr(t)} {
		t.Run(name, func(t *testing.T) {
			r, err := consul.New(&api.Config{Address: addr})
			require.NoError(t, err)
			defer r.Close()
			s := &registry.Service{Name: "svc", Nodes: []*registry.Node{{ID: "1", Address: "127.0.0.1:1"}}}
			const deadline = 300 * time.Millisecond
			calls := map[string]func(context.Context) error{
				"Register":     func(ctx context.Context) error { return r.Register(ctx, s, registry.WithTTL(time.Second)) },
				"Deregister":   func(ctx context.Context) error { return r.Deregister(ctx, s) },
				"GetService":   func(ctx context.Context) error { _, err := r.GetService(ctx, "svc"); return err },
				"ListServices": func(ctx context.Context) error { _, err := r.ListServices(ctx); return err },
				"Watch":        func(ctx context.Context) error { _, err := r.Watch(ctx); return err },
				"WatchService": func(ctx context.Context) error {
					_, err := r.Watch(ctx, registry.WatchService("svc"))
					return err
				},
			}
			for call, f := range calls {
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				start := time.Now()
				err := f(ctx)
				cancel()
				require.ErrorIs(t, err, registry.ErrUnavailable, call)
				require.Less(t, time.Since(start), deadline+time.Second, call)
				if name == "hung" {
					require.True(t, errors.Is(err, context.DeadlineExceeded), "%s: %v", call, err)
				}
			}
		})
	}
}

// TestWatchRemoteWrites: changes made through another Registry (another
// process, as far as this one can tell) reach watchers through Consul's
// blocking queries.
func TestWatchRemoteWrites(t *testing.T) {
	t.Parallel()
	watching, writing := newRegistry(t), newRegistry(t)
	ctx := ctxT(t, 30*time.Second)
	s := &registry.Service{Name: uniqueName(t), Version: "1", Nodes: []*registry.Node{{ID: "n1", Address: "127.0.0.1:1"}}}
	t.Cleanup(func() { _ = writing.Deregister(context.Background(), s) })
	one, err := watching.Watch(ctx, registry.WatchService(s.Name))
	require.NoError(t, err)
	defer one.Stop()
	all, err := watching.Watch(ctx)
	require.NoError(t, err)
	defer all.Stop()
	mine := func(w registry.Watcher) *registry.Event {
		for {
			if ev := nextEvent(t, w, 10*time.Second); ev.Service.Name == s.Name {
				return ev
			}
		}
	}
	expect := func(typ registry.EventType, want *registry.Service) {
		t.Helper()
		for _, w := range []registry.Watcher{one, all} {
			ev := mine(w)
			require.Equal(t, typ, ev.Type)
			require.Equal(t, want, ev.Service)
		}
	}

	require.NoError(t, writing.Register(ctx, s))
	expect(registry.Create, s)
	s2 := s.Copy()
	s2.Version = "2"
	s2.Nodes[0].Metadata = map[string]string{"k": "v"}
	require.NoError(t, writing.Register(ctx, s2))
	expect(registry.Update, s2)
	require.NoError(t, writing.Register(ctx, s2)) // a heartbeat: no event
	require.NoError(t, writing.Deregister(ctx, s2))
	expect(registry.Delete, s2)
	_, err = one.Next(ctxT(t, 50*time.Millisecond))
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
