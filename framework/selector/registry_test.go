package selector_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/registry"
)

// fakeRegistry is a small in-memory registry for these tests (the memory
// package's registry is being written elsewhere). Nodes never expire. It
// blocks only on channels, so it runs inside a synctest bubble.
type fakeRegistry struct {
	mu       sync.Mutex
	services map[string]map[string]*registry.Service // name -> version
	watchers []*fakeWatcher
	down     bool          // every call fails with ErrUnavailable
	gate     chan struct{} // if set, GetService waits for it to close
	late     chan struct{} // if set, GetService takes its snapshot, then waits
	gets     int           // GetService calls
	watches  int           // successful Watch calls
}

func newFakeRegistry() *fakeRegistry {
	return &fakeRegistry{services: make(map[string]map[string]*registry.Service)}
}

func (r *fakeRegistry) Register(ctx context.Context, s *registry.Service, _ ...registry.RegisterOption) error {
	if err := registry.Validate(s); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return registry.ErrUnavailable
	}
	versions := r.services[s.Name]
	if versions == nil {
		versions = make(map[string]*registry.Service)
		r.services[s.Name] = versions
	}
	for _, n := range s.Nodes {
		typ := registry.Create
		for _, v := range versions {
			if i := nodeIndex(v.Nodes, n.ID); i >= 0 {
				typ = registry.Update
				v.Nodes = slices.Delete(v.Nodes, i, i+1)
			}
		}
		v := versions[s.Version]
		if v == nil {
			v = s.CopyWithoutNodes()
			versions[s.Version] = v
		}
		v.Nodes = append(v.Nodes, n.Copy())
		r.emitLocked(typ, s, n)
	}
	r.dropEmptyLocked(s.Name)
	return nil
}

func (r *fakeRegistry) Deregister(ctx context.Context, s *registry.Service) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return registry.ErrUnavailable
	}
	for _, n := range s.Nodes {
		for _, v := range r.services[s.Name] {
			if i := nodeIndex(v.Nodes, n.ID); i >= 0 {
				v.Nodes = slices.Delete(v.Nodes, i, i+1)
				r.emitLocked(registry.Delete, v, n)
			}
		}
	}
	r.dropEmptyLocked(s.Name)
	return nil
}

func (r *fakeRegistry) GetService(ctx context.Context, name string) ([]*registry.Service, error) {
	r.mu.Lock()
	r.gets++
	gate, late := r.gate, r.late
	r.mu.Unlock()
	if err := waitGate(ctx, gate); err != nil {
		return nil, err
	}
	out, err := r.snapshot(name)
	if err := waitGate(ctx, late); err != nil {
		return nil, err
	}
	return out, err
}

func (r *fakeRegistry) snapshot(name string) ([]*registry.Service, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return nil, fmt.Errorf("%w: fake is down", registry.ErrUnavailable)
	}
	versions := r.services[name]
	if len(versions) == 0 {
		return nil, fmt.Errorf("%w: %q", registry.ErrNotFound, name)
	}
	var out []*registry.Service
	for _, k := range slices.Sorted(maps.Keys(versions)) {
		out = append(out, versions[k].Copy())
	}
	return out, nil
}

func waitGate(ctx context.Context, gate chan struct{}) error {
	if gate == nil {
		return nil
	}
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *fakeRegistry) ListServices(ctx context.Context) ([]*registry.Service, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*registry.Service
	for _, name := range slices.Sorted(maps.Keys(r.services)) {
		out = append(out, &registry.Service{Name: name})
	}
	return out, nil
}

func (r *fakeRegistry) Watch(ctx context.Context, _ ...registry.WatchOption) (registry.Watcher, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return nil, registry.ErrUnavailable
	}
	r.watches++
	w := &fakeWatcher{notify: make(chan struct{}, 1), stop: make(chan struct{})}
	r.watchers = append(r.watchers, w)
	return w, nil
}

// setDown makes every call fail (true) or work again (false); going down
// breaks the open watches.
func (r *fakeRegistry) setDown(down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = down
	if down {
		r.breakWatchersLocked()
	}
}

// breakWatchers makes every open watch fail with ErrUnavailable.
func (r *fakeRegistry) breakWatchers() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.breakWatchersLocked()
}

func (r *fakeRegistry) breakWatchersLocked() {
	for _, w := range r.watchers {
		w.fail(fmt.Errorf("%w: connection lost", registry.ErrUnavailable))
	}
	r.watchers = nil
}

func (r *fakeRegistry) counts() (gets, watches int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gets, r.watches
}

func (r *fakeRegistry) emitLocked(typ registry.EventType, s *registry.Service, n *registry.Node) {
	ev := &registry.Event{Type: typ, Service: s.CopyWithoutNodes(), Timestamp: time.Now()}
	ev.Service.Nodes = []*registry.Node{n.Copy()}
	for _, w := range r.watchers {
		w.push(ev)
	}
}

func (r *fakeRegistry) dropEmptyLocked(name string) {
	maps.DeleteFunc(r.services[name], func(_ string, v *registry.Service) bool { return len(v.Nodes) == 0 })
	if len(r.services[name]) == 0 {
		delete(r.services, name)
	}
}

func nodeIndex(nodes []*registry.Node, id string) int {
	return slices.IndexFunc(nodes, func(n *registry.Node) bool { return n.ID == id })
}

// fakeWatcher queues events without bound, so none is ever dropped.
type fakeWatcher struct {
	mu      sync.Mutex
	queue   []*registry.Event
	err     error
	stopped bool
	notify  chan struct{}
	stop    chan struct{}
}

func (w *fakeWatcher) Next(ctx context.Context) (*registry.Event, error) {
	for {
		w.mu.Lock()
		switch {
		case w.stopped:
			w.mu.Unlock()
			return nil, registry.ErrWatcherStopped
		case w.err != nil:
			err := w.err
			w.mu.Unlock()
			return nil, err
		case len(w.queue) > 0:
			ev := w.queue[0]
			w.queue = w.queue[1:]
			w.mu.Unlock()
			return ev, nil
		}
		w.mu.Unlock()
		select {
		case <-w.notify:
		case <-w.stop:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (w *fakeWatcher) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.stopped = true
		close(w.stop)
	}
}

func (w *fakeWatcher) push(ev *registry.Event) {
	w.mu.Lock()
	w.queue = append(w.queue, ev)
	w.mu.Unlock()
	w.wake()
}

func (w *fakeWatcher) fail(err error) {
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
	w.wake()
}

func (w *fakeWatcher) wake() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// setGates sets the gate and late channels of GetService (nil: none).
func (r *fakeRegistry) setGates(gate, late chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gate, r.late = gate, late
}
