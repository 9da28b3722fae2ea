package registrytest

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
)

// testRoundTrip: what GetService returns is what was registered, metadata
// and endpoints (with their shapes) included.
func testRoundTrip(w *world) {
	t := w.t
	name := w.name("greeter")
	s := service(name, "1.2.3", node("n2"), node("n1"), &registry.Node{ID: "n3", Address: "10.0.0.3:80"})
	s.Endpoints = append(s.Endpoints, &registry.Endpoint{Name: "Greeter.Bare"})
	w.register(s)
	want := normalize([]*registry.Service{s.Copy()})
	require.Equal(t, want, w.get(name))
}

// testVersions: nodes are grouped by version, each version with its own
// metadata and endpoints.
func testVersions(w *world) {
	t := w.t
	name := w.name("greeter")
	v1 := service(name, "1.0", node("a"), node("b"))
	v2 := service(name, "2.0", node("c"))
	v2.Endpoints = v2.Endpoints[:1]
	w.register(v1)
	w.register(v2)
	require.Equal(t, normalize([]*registry.Service{v1.Copy(), v2.Copy()}), w.get(name))

	// A node moves to another version by being registered with it.
	moved := service(name, "2.0", node("b"))
	moved.Endpoints = moved.Endpoints[:1]
	w.register(moved)
	want := []*registry.Service{service(name, "1.0", node("a")), service(name, "2.0", node("b"), node("c"))}
	want[1].Endpoints = want[1].Endpoints[:1]
	require.Equal(t, want, w.get(name))
}

// testListServices: every service with a live node is listed once per
// version, without nodes; a service without nodes is not.
func testListServices(w *world) {
	t := w.t
	a, b := w.name("a"), w.name("b")
	w.register(service(a, "1.0", node("a1"), node("a2")))
	w.register(service(b, "1.0", node("b1")))
	w.register(service(b, "2.0", node("b2")))

	type nv struct{ name, version string }
	names := func(ss []*registry.Service) []nv {
		var out []nv
		for _, s := range ss {
			require.Empty(t, s.Nodes, "ListServices returns services without nodes")
			out = append(out, nv{s.Name, s.Version})
		}
		return out
	}
	require.Equal(t, []nv{{a, "1.0"}, {b, "1.0"}, {b, "2.0"}}, names(w.list()))

	require.NoError(t, w.r.Deregister(w.ctx, service(a, "1.0", node("a1"), node("a2"))))
	require.NoError(t, w.r.Deregister(w.ctx, service(b, "1.0", node("b1"))))
	require.Equal(t, []nv{{b, "2.0"}}, names(w.list()))
}

// testDeregister: Deregister removes exactly the given nodes; unknown nodes
// and services are not an error.
func testDeregister(w *world) {
	t := w.t
	name := w.name("greeter")
	w.register(service(name, "1.0", node("a"), node("b"), node("c")))

	require.NoError(t, w.r.Deregister(w.ctx, service(name, "1.0", node("a"), node("c"))))
	require.Equal(t, []*registry.Service{service(name, "1.0", node("b"))}, w.get(name))

	require.NoError(t, w.r.Deregister(w.ctx, service(name, "1.0", node("a"), node("unknown"))), "unknown nodes")
	require.NoError(t, w.r.Deregister(w.ctx, service(w.name("unknown"), "1.0", node("a"))), "unknown service")
	require.Equal(t, []*registry.Service{service(name, "1.0", node("b"))}, w.get(name))

	require.NoError(t, w.r.Deregister(w.ctx, service(name, "1.0", node("b"))))
	w.requireNotFound(name)
	require.Empty(t, w.list())

	// A deregistered node can be registered again.
	w.register(service(name, "1.0", node("a")))
	require.Equal(t, []*registry.Service{service(name, "1.0", node("a"))}, w.get(name))
}

// testNotFound: an unknown service is ErrNotFound, naming the service.
func testNotFound(w *world) {
	name := w.name("nobody")
	_, err := w.r.GetService(w.ctx, name)
	require.ErrorIs(w.t, err, registry.ErrNotFound)
	require.Contains(w.t, err.Error(), name)
}

// testInvalid: malformed services are rejected with ErrInvalid and leave
// nothing behind.
func testInvalid(w *world) {
	t := w.t
	name := w.name("bad")
	cases := map[string]*registry.Service{
		"nil":        nil,
		"empty name": service("", "1.0", node("a")),
		"no nodes":   service(name, "1.0"),
		"nil node":   service(name, "1.0", node("a"), nil),
		"no id":      service(name, "1.0", &registry.Node{Address: "10.0.0.1:80"}),
		"no address": service(name, "1.0", &registry.Node{ID: "a"}),
		"duplicate":  service(name, "1.0", node("a"), node("b"), node("a")),
	}
	for what, s := range cases {
		err := w.r.Register(w.ctx, s)
		require.ErrorIs(t, err, registry.ErrInvalid, what)
	}
	w.requireNotFound(name)
}

// testCopies: callers own what they pass and what they get back.
func testCopies(w *world) {
	t := w.t
	name := w.name("greeter")
	orig := service(name, "1.0", node("a"))
	s := orig.Copy()
	w1, w2 := w.watch(registry.WatchService(name)), w.watch(registry.WatchService(name))
	w.register(s)
	mutate(s)
	want := []*registry.Service{orig}
	require.Equal(t, want, w.get(name), "changing the registered value")

	got := w.get(name)
	mutate(got[0])
	require.Equal(t, want, w.get(name), "changing a returned value")

	list := w.list()
	require.Len(t, list, 1)
	list[0].Name, list[0].Version = "mutated", "mutated"
	if list[0].Metadata != nil {
		list[0].Metadata["version"] = "mutated"
	}
	list = w.list()
	require.Len(t, list, 1)
	require.Equal(t, "1.0", list[0].Version)

	// Each watcher gets its own copy of an event.
	e1 := w.requireEvent(w1, registry.Create, name, "a")
	e2 := w.requireEvent(w2, registry.Create, name, "a")
	mutate(e1.Service)
	e1.Service.Name = "mutated"
	require.Equal(t, orig, e2.Service)
	require.Equal(t, want, w.get(name), "changing an event")
}

// mutate changes every part of s that a shallow copy would share.
func mutate(s *registry.Service) {
	s.Metadata["version"] = "mutated"
	s.Endpoints[0].Name = "mutated"
	s.Endpoints[0].Metadata["stream"] = "mutated"
	if rs := s.Endpoints[0].RequestShape; rs != nil && len(rs.Fields) > 1 {
		rs.Fields[0].Name = "mutated"
		rs.Fields[1].Elem.Type = "mutated"
	}
	s.Endpoints = append(s.Endpoints[:1], &registry.Endpoint{Name: "added"})
	s.Nodes[0].Address = "mutated:1"
	s.Nodes[0].Metadata["id"] = "mutated"
	s.Nodes = append(s.Nodes, node("added"))
}

// testConcurrent: registrations, lookups and deregistrations from 20
// goroutines at once all take effect.
func testConcurrent(w *world) {
	t := w.t
	const n = 20
	name := w.name("greeter")
	other := w.name("other")
	run := func(f func(i int) error) {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				if err := f(i); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	}
	id := func(i int) string { return fmt.Sprintf("n%02d", i) }
	run(func(i int) error {
		if err := w.r.Register(w.ctx, service(name, "1.0", node(id(i)))); err != nil {
			return err
		}
		if err := w.r.Register(w.ctx, service(other, "1.0", node(id(i)))); err != nil {
			return err
		}
		if _, err := w.r.GetService(w.ctx, name); err != nil {
			return err
		}
		_, err := w.r.ListServices(w.ctx)
		return err
	})
	w.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), w.wait)
		defer cancel()
		for i := range n {
			_ = w.r.Deregister(ctx, service(name, "1.0", node(id(i))))
			_ = w.r.Deregister(ctx, service(other, "1.0", node(id(i))))
		}
	})
	got := w.get(name)
	require.Len(t, got, 1)
	require.Len(t, got[0].Nodes, n)
	for i, nd := range got[0].Nodes {
		require.Equal(t, id(i), nd.ID)
		require.True(t, strings.HasPrefix(nd.Address, "10.0.0.1:"))
	}

	run(func(i int) error { return w.r.Deregister(w.ctx, service(name, "1.0", node(id(i)))) })
	w.requireNotFound(name)
	require.Len(t, w.get(other)[0].Nodes, n)
}
