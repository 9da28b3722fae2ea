package consul

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/registry"
)

// Watch returns a watcher of the passing nodes of one service
// (registry.WatchService) or of every service carrying r's tag. It blocks
// for one round trip (bounded by ctx) to take the starting snapshot, so
// every change after Watch returns yields an event; ctx bounds only that
// round trip, the watcher lives until Stop or r.Close. The watcher owns one
// goroutine per watched service, plus one on the catalog when it watches
// all services. Changes made through r reach it in order at once; changes
// made elsewhere arrive as Consul's blocking queries report them (see the
// package doc).
func (r *Registry) Watch(ctx context.Context, opts ...registry.WatchOption) (registry.Watcher, error) {
	var o registry.WatchOptions
	for _, opt := range opts {
		opt(&o)
	}
	if r.isClosed() {
		return nil, errClosed
	}
	names := []string{o.Service}
	var catalogIndex uint64
	if o.Service == "" {
		var err error
		if names, catalogIndex, err = r.services(ctx, 0); err != nil {
			return nil, err
		}
	}
	snaps, err := r.healthAll(ctx, names)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	w := &watcher{
		r:        r,
		all:      o.Service == "",
		ctx:      wctx,
		cancel:   cancel,
		notify:   make(chan struct{}, 1),
		done:     make(chan struct{}),
		services: make(map[string]*serviceWatch, len(names)),
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	// From now on writes through r reach w by local, which waits for w.mu.
	if err := r.addWatcher(w); err != nil {
		cancel()
		return nil, err
	}
	for _, name := range names {
		sw := w.startLocked(name, true, snaps[name].index)
		maps.Copy(sw.nodes, snaps[name].nodes) // the baseline: no events
	}
	if w.all {
		w.wg.Add(1)
		go w.watchCatalog(catalogIndex)
	}
	return w, nil
}

// watcher implements registry.Watcher on blocking queries.
type watcher struct {
	r      *Registry
	all    bool
	ctx    context.Context // cancelled by Stop
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	notify chan struct{} // one pending wake-up for Next
	done   chan struct{} // closed by Stop

	mu       sync.Mutex
	stopped  bool
	queue    []*registry.Event
	services map[string]*serviceWatch
}

// serviceWatch is the state of one watched service; guarded by watcher.mu.
type serviceWatch struct {
	name   string
	nodes  map[string]instance // what the watcher has reported
	listed bool                // in the catalog's last answer (watch-all only)
	cancel context.CancelFunc
	// lastWrite holds, per node ID, the write sequence number of the last
	// change made through the registry. A query result about that node is
	// ignored unless the query started after that write completed, so a
	// result older than a reported write never undoes it.
	lastWrite map[string]uint64
}

// Next blocks until an event, Stop (registry.ErrWatcherStopped) or ctx is done.
func (w *watcher) Next(ctx context.Context) (*registry.Event, error) {
	for {
		w.mu.Lock()
		if w.stopped {
			w.mu.Unlock()
			return nil, registry.ErrWatcherStopped
		}
		if len(w.queue) > 0 {
			ev := w.queue[0]
			w.queue[0] = nil
			w.queue = w.queue[1:]
			more := len(w.queue) > 0
			w.mu.Unlock()
			if more {
				w.wake() // another Next may be waiting
			}
			return ev, nil
		}
		w.mu.Unlock()
		select {
		case <-w.notify:
		case <-w.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Stop ends the watch, cancels its queries and waits for its goroutines.
// Idempotent; safe to call concurrently with Next.
func (w *watcher) Stop() {
	w.once.Do(func() {
		w.r.removeWatcher(w)
		w.mu.Lock()
		w.stopped = true
		w.queue = nil
		w.mu.Unlock()
		close(w.done)
		w.cancel()
		w.wg.Wait()
	})
}

func (w *watcher) wake() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// startLocked adds a service to the watch and starts its query goroutine
// from index. w.mu is held.
func (w *watcher) startLocked(name string, listed bool, index uint64) *serviceWatch {
	ctx, cancel := context.WithCancel(w.ctx)
	sw := &serviceWatch{name: name, nodes: map[string]instance{}, listed: listed, cancel: cancel,
		lastWrite: map[string]uint64{}}
	w.services[name] = sw
	w.wg.Add(1)
	go w.watchService(ctx, sw, index)
	return sw
}

// local reports a change made through the registry: node nodeID of service
// name now holds svc (one node), or is gone (svc nil). seq is the change's
// write sequence number.
func (w *watcher) local(name, nodeID string, svc *registry.Service, seq uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	sw := w.services[name]
	if sw == nil {
		if !w.all {
			return // a watcher of another service
		}
		sw = w.startLocked(name, false, 0)
	}
	sw.lastWrite[nodeID] = max(sw.lastWrite[nodeID], seq)
	old, had := sw.nodes[nodeID]
	switch {
	case svc == nil && had:
		delete(sw.nodes, nodeID)
		w.emitLocked(registry.Delete, old.svc)
	case svc == nil:
	case !had:
		sw.nodes[nodeID] = instance{svc: svc}
		w.emitLocked(registry.Create, svc)
	case !sameService(old.svc, svc):
		sw.nodes[nodeID] = instance{svc: svc, modify: old.modify}
		w.emitLocked(registry.Update, svc)
	}
}

// emitLocked queues an event holding a copy of svc. w.mu is held.
func (w *watcher) emitLocked(typ registry.EventType, svc *registry.Service) {
	w.queue = append(w.queue, &registry.Event{Type: typ, Service: svc.Copy(), Timestamp: time.Now()})
	w.wake()
}

// apply diffs a query result about sw, from a query started at write
// sequence number start, into events. It reports whether sw's goroutine
// should go on, and whether the result was partly ignored because it may
// predate writes made through the registry (then the goroutine queries
// again at once).
func (w *watcher) apply(sw *serviceWatch, nodes map[string]instance, start uint64) (goOn, stale bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped || w.services[sw.name] != sw {
		return false, false
	}
	// A node written through the registry after the query started is left
	// as the writes made it; if the result disagrees, it may be older than
	// those writes, or newer: query again.
	fenced := func(id string) bool { return sw.lastWrite[id] > start }
	for _, id := range slices.Sorted(maps.Keys(nodes)) {
		old, ok := sw.nodes[id]
		same := ok && sameService(old.svc, nodes[id].svc)
		switch {
		case fenced(id):
			stale = stale || !same
		case !ok:
			sw.nodes[id] = nodes[id]
			w.emitLocked(registry.Create, nodes[id].svc)
		case !same:
			sw.nodes[id] = nodes[id]
			w.emitLocked(registry.Update, nodes[id].svc)
		default:
			sw.nodes[id] = nodes[id] // same data, newer index
		}
	}
	for _, id := range slices.Sorted(maps.Keys(sw.nodes)) {
		if _, ok := nodes[id]; ok {
			continue
		}
		if fenced(id) {
			stale = true
			continue
		}
		w.emitLocked(registry.Delete, sw.nodes[id].svc)
		delete(sw.nodes, id)
	}
	maps.DeleteFunc(sw.lastWrite, func(_ string, seq uint64) bool { return seq <= start })
	if w.all && !sw.listed && len(sw.nodes) == 0 && len(sw.lastWrite) == 0 {
		delete(w.services, sw.name)
		return false, false
	}
	return true, stale
}
