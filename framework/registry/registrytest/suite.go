package registrytest

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/internal/testname"
	"github.com/microsim/microsim/framework/registry"
)

// Suite describes the registry under test.
type Suite struct {
	// New returns the registry one subtest uses. It may be a fresh registry
	// or a client of a shared one (the suite uses names of its own). It
	// registers with t.Cleanup whatever must be released afterwards.
	New func(t *testing.T) registry.Registry
	// Synctest runs each subtest inside synctest.Test (virtual time); New is
	// then called inside the bubble.
	Synctest bool
	// TTL is the shortest TTL the implementation honours (e.g. 100ms for
	// memory, seconds for Consul); the TTL subtests register with it and
	// heartbeat every TTL/3. 0 skips them.
	TTL time.Duration
	// Wait bounds how long the suite waits for an expected event or result
	// beyond when it is due (an expiry is due TTL after the last Register).
	// 0 means 10s.
	Wait time.Duration
}

// Run runs every subtest of the suite. It blocks until they are done.
func (s Suite) Run(t *testing.T) {
	tests := []struct {
		name string
		f    func(*world)
		ttl  bool
	}{
		{"RoundTrip", testRoundTrip, false},
		{"Versions", testVersions, false},
		{"ListServices", testListServices, false},
		{"Deregister", testDeregister, false},
		{"NotFound", testNotFound, false},
		{"Invalid", testInvalid, false},
		{"TTLRefresh", testTTLRefresh, true},
		{"TTLExpiry", testTTLExpiry, true},
		{"TTLRenewal", testTTLRenewal, true},
		{"WatchBurst", testWatchBurst, false},
		{"WatchService", testWatchService, false},
		{"WatchStop", testWatchStop, false},
		{"WatchContext", testWatchContext, false},
		{"Copies", testCopies, false},
		{"Concurrent", testConcurrent, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ttl && s.TTL <= 0 {
				t.Skip("Suite.TTL is 0")
			}
			if s.Synctest {
				synctest.Test(t, func(t *testing.T) { tc.f(s.newWorld(t)) })
				return
			}
			tc.f(s.newWorld(t))
		})
	}
}

// short is how long "nothing more happens" is waited for.
const short = 50 * time.Millisecond

// world is one subtest's registry and helpers.
type world struct {
	t      *testing.T
	s      Suite
	r      registry.Registry
	wait   time.Duration
	ctx    context.Context // ends when the subtest does, or after a bound
	prefix string          // every service name of the subtest starts with it
	wg     sync.WaitGroup  // goroutines started by goNext
}

func (s Suite) newWorld(t *testing.T) *world {
	require.NotNil(t, s.New, "Suite.New")
	r := s.New(t)
	require.NotNil(t, r, "Suite.New returned nil")
	wait := s.Wait
	if wait <= 0 {
		wait = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*s.TTL+10*wait)
	w := &world{t: t, s: s, r: r, wait: wait, ctx: ctx, prefix: testname.Prefix(t)}
	// Runs after the subtest's own cleanups (watchers stopped, services
	// deregistered) and before New's.
	t.Cleanup(func() {
		cancel()
		w.wg.Wait()
	})
	return w
}

// name is the subtest's service name with the given suffix.
func (w *world) name(suffix string) string { return w.prefix + suffix }

// ours reports whether a service belongs to this subtest.
func (w *world) ours(s *registry.Service) bool {
	return s != nil && strings.HasPrefix(s.Name, w.prefix)
}

// register registers s and, when the subtest ends, deregisters it.
func (w *world) register(s *registry.Service, opts ...registry.RegisterOption) {
	w.t.Helper()
	require.NoError(w.t, w.r.Register(w.ctx, s, opts...), "Register %s", s.Name)
	cp := s.Copy()
	w.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), w.wait)
		defer cancel()
		_ = w.r.Deregister(ctx, cp) // best effort: the registry may be closed
	})
}

// get returns the named service, normalised by normalize.
func (w *world) get(name string) []*registry.Service {
	w.t.Helper()
	got, err := w.r.GetService(w.ctx, name)
	require.NoError(w.t, err, "GetService %s", name)
	return normalize(got)
}

// requireNotFound checks that the named service has no live node.
func (w *world) requireNotFound(name string) {
	w.t.Helper()
	_, err := w.r.GetService(w.ctx, name)
	require.ErrorIs(w.t, err, registry.ErrNotFound, "GetService %s", name)
}

// list returns this subtest's listed services, sorted by name and version.
func (w *world) list() []*registry.Service {
	w.t.Helper()
	all, err := w.r.ListServices(w.ctx)
	require.NoError(w.t, err, "ListServices")
	var out []*registry.Service
	for _, s := range all {
		if w.ours(s) {
			out = append(out, s)
		}
	}
	return normalize(out)
}

// watch starts a watcher that is stopped when the subtest ends.
func (w *world) watch(opts ...registry.WatchOption) registry.Watcher {
	w.t.Helper()
	wt, err := w.r.Watch(w.ctx, opts...)
	require.NoError(w.t, err, "Watch")
	require.NotNil(w.t, wt)
	w.t.Cleanup(wt.Stop)
	return wt
}

// next returns the watcher's next event about this subtest's services,
// waiting at most d.
func (w *world) next(wt registry.Watcher, d time.Duration) *registry.Event {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, d)
	defer cancel()
	for {
		ev, err := wt.Next(ctx)
		require.NoError(w.t, err, "Next")
		require.NotNil(w.t, ev, "Next returned no event and no error")
		require.NotNil(w.t, ev.Service, "event without a service")
		if w.ours(ev.Service) {
			return ev
		}
	}
}

// requireEvent checks the watcher's next event: its type, service name and
// node ID, that it holds exactly that node and has a timestamp.
func (w *world) requireEvent(wt registry.Watcher, typ registry.EventType, service, node string) *registry.Event {
	w.t.Helper()
	return w.requireEventWithin(wt, w.wait, typ, service, node)
}

// requireEventWithin is requireEvent waiting at most d.
func (w *world) requireEventWithin(wt registry.Watcher, d time.Duration, typ registry.EventType, service, node string) *registry.Event {
	w.t.Helper()
	ev := w.next(wt, d)
	require.Equal(w.t, typ, ev.Type, "event type (%s %s/%s expected)", typ, service, node)
	require.Equal(w.t, service, ev.Service.Name, "event service")
	require.Len(w.t, ev.Service.Nodes, 1, "an event holds exactly its node")
	require.Equal(w.t, node, ev.Service.Nodes[0].ID, "event node")
	require.False(w.t, ev.Timestamp.IsZero(), "event timestamp")
	return ev
}

// requireQuiet checks that no event of this subtest arrives for a while.
func (w *world) requireQuiet(wt registry.Watcher) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, short)
	defer cancel()
	for {
		ev, err := wt.Next(ctx)
		if err != nil {
			require.ErrorIs(w.t, err, context.DeadlineExceeded, "Next")
			return
		}
		require.False(w.t, ev != nil && w.ours(ev.Service), "unexpected event %s %+v", ev.Type, ev.Service)
	}
}

// result is what a Next returned.
type result struct {
	ev  *registry.Event
	err error
}

// goNext calls wt.Next(ctx) in a goroutine the world waits for.
func (w *world) goNext(ctx context.Context, wt registry.Watcher) <-chan result {
	ch := make(chan result, 1)
	w.wg.Go(func() {
		ev, err := wt.Next(ctx)
		ch <- result{ev, err}
	})
	return ch
}

// await returns what a goNext returned, waiting at most w.wait.
func (w *world) await(ch <-chan result) result {
	w.t.Helper()
	timer := time.NewTimer(w.wait)
	defer timer.Stop()
	select {
	case r := <-ch:
		return r
	case <-timer.C:
		w.t.Fatalf("Next did not return within %v", w.wait)
		return result{}
	}
}

// settle waits, in a bubble, until every goroutine is blocked, so a call
// started in a goroutine is pending. In real time it does nothing: the
// checks that follow hold whether the call is pending or not yet made.
func (w *world) settle() {
	if w.s.Synctest {
		synctest.Wait()
	}
}

// normalize sorts services by name and version and their nodes by ID, in
// place, and returns them.
func normalize(ss []*registry.Service) []*registry.Service {
	slices.SortFunc(ss, func(a, b *registry.Service) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
	for _, s := range ss {
		slices.SortFunc(s.Nodes, func(a, b *registry.Node) int { return cmp.Compare(a.ID, b.ID) })
	}
	return ss
}

// node is a node with the given ID and a distinct address and metadata.
func node(id string) *registry.Node {
	return &registry.Node{ID: id, Address: "10.0.0.1:" + strconv.Itoa(1000+len(id)), Metadata: map[string]string{"id": id}}
}

// service is a service with metadata and endpoints and the given nodes.
func service(name, version string, nodes ...*registry.Node) *registry.Service {
	return &registry.Service{
		Name:     name,
		Version:  version,
		Metadata: map[string]string{"version": version, "team": "a b"},
		Endpoints: []*registry.Endpoint{
			{Name: "Greeter.Hello", Request: "HelloRequest", Response: "HelloReply", Metadata: map[string]string{"stream": "false"},
				RequestShape: &registry.Shape{Type: "object", Ref: "HelloRequest", Fields: []*registry.Field{
					{Name: "name", Shape: registry.Shape{Type: "string"}},
					{Name: "tags", Shape: registry.Shape{Type: "array", Elem: &registry.Shape{Type: "string"}}}}},
				ResponseShape: &registry.Shape{Type: "object", Ref: "HelloReply", Truncated: true}},
			{Name: "Greeter.Stream", Request: "HelloRequest", Response: "HelloReply", Metadata: map[string]string{"stream": "true"}},
		},
		Nodes: nodes,
	}
}
