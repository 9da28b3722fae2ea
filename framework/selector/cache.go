package selector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/microsim/microsim/framework/registry"
)

// entry is the cached state of one service. services and nodes are never
// modified once the entry is stored: an event replaces the entry with a new
// one, so Select reads them without the lock. fetched, epoch and retryAt
// are read and written under defaultSelector.mu; the views and the LRU
// clock are atomic.
type entry struct {
	services []*registry.Service // one per version
	nodes    []*registry.Node    // every node of services, sorted by ID
	// health is the service's per-node state, shared by the entries that
	// replace this one, kept across refetches.
	health *svcHealth

	fetched time.Time // when the registry fetch completed
	epoch   uint64    // the watch epoch the snapshot was taken in
	retryAt time.Time // after a failed refetch: serve as is until then

	used    atomic.Uint64        // the selector's LRU clock at the last Select
	all     atomic.Pointer[view] // built on first use
	healthy atomic.Pointer[view]
}

// flight is one fetch of a service in progress; concurrent Selects of the
// service wait for it instead of fetching again.
type flight struct {
	done chan struct{} // closed when ent or err is set
	ent  *entry
	err  error
	// abandoned: the fetching Select's ctx ended first, so err says nothing
	// about the registry and waiters with time left fetch again.
	abandoned bool
	// events that arrived while fetching, replayed onto the snapshot (an
	// event may be newer than the snapshot; replaying older ones is harmless
	// since each event carries the full state of its node).
	events []*registry.Event
}

// lookup returns the entry to select from, fetching it when it is missing
// or due. Blocks only while fetching (or waiting for another Select's fetch
// of the same service), honouring ctx.
func (s *defaultSelector) lookup(ctx context.Context, service string) (*entry, error) {
	for {
		if e := s.cached(service); e != nil {
			return e, nil
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		s.startLocked()
		e := s.cache[service]
		if e != nil && (s.freshLocked(e) || time.Now().Before(e.retryAt)) {
			s.touch(e)
			s.mu.Unlock()
			return e, nil
		}
		f, waiting := s.flights[service]
		if !waiting {
			f = &flight{done: make(chan struct{})}
			s.flights[service] = f
		}
		s.mu.Unlock()

		if !waiting {
			return s.fetch(ctx, service, f)
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("selector: service %q: %w", service, ctx.Err())
		}
		if f.abandoned && ctx.Err() == nil {
			continue // the fetching Select gave up; this one has not
		}
		return f.ent, f.err
	}
}

// cached is lookup's fast path, under the read lock: the entry if it is
// servable as is, else nil.
func (s *defaultSelector) cached(service string) *entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed || !s.started {
		return nil
	}
	e := s.cache[service]
	if e == nil {
		return nil
	}
	if !s.freshLocked(e) && !time.Now().Before(e.retryAt) {
		return nil
	}
	s.touch(e)
	return e
}

// touch records that e was selected now, for the LRU bound. Selecting the
// service that was selected last changes nothing, so a run of Selects of
// one service writes no shared memory.
func (s *defaultSelector) touch(e *entry) {
	if e.used.Load() != s.clock.Load() {
		e.used.Store(s.clock.Add(1))
	}
}

// freshLocked reports whether e is of the current epoch and younger than
// the TTL. time.Since reads only the monotonic clock (time.Now reads the
// wall clock too): this runs on every Select.
func (s *defaultSelector) freshLocked(e *entry) bool {
	return e.epoch == s.epoch && time.Since(e.fetched) < s.cfg.ttl
}

// fetch asks the registry for service on behalf of flight f and settles f.
func (s *defaultSelector) fetch(ctx context.Context, service string, f *flight) (*entry, error) {
	// Fetch only once the watch is set up, so no event falls between the
	// snapshot and the watch.
	select {
	case <-s.ready:
	case <-ctx.Done():
	}
	s.mu.Lock()
	epoch := s.epoch
	s.mu.Unlock()

	var svcs []*registry.Service
	err := ctx.Err()
	if err == nil {
		svcs, err = s.reg.GetService(ctx, service)
	}
	now := time.Now()

	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.flights, service)
	defer close(f.done)
	switch {
	case s.closed:
		f.err = ErrClosed
	case err == nil:
		e := newEntry(svcs)
		for _, ev := range f.events {
			e = e.with(ev)
		}
		e.fetched, e.epoch = now, epoch
		e.health = newSvcHealth()
		if old := s.cache[service]; old != nil {
			e.health = old.health // a refetch keeps the outlier state
		}
		s.storeLocked(service, e)
		s.evictLocked(service)
		f.ent = e
	case errors.Is(err, registry.ErrNotFound):
		delete(s.cache, service)
		f.err = fmt.Errorf("%w: %q: %w", ErrNotFound, service, err)
	case ctx.Err() != nil:
		// The caller gave up; that says nothing about the registry.
		f.err = fmt.Errorf("selector: service %q: %w", service, ctx.Err())
		f.abandoned = true
	case s.cache[service] != nil:
		// Stale while error: serve what we had, and hold off the registry.
		e := s.cache[service]
		e.retryAt = now.Add(s.cfg.errorHoldoff())
		f.ent = e
	default:
		f.err = fmt.Errorf("selector: service %q: %w", service, err)
	}
	return f.ent, f.err
}

// apply applies a watch event to the cached entry of its service, if any.
func (s *defaultSelector) apply(ev *registry.Event) {
	if ev == nil || ev.Service == nil {
		return
	}
	name := ev.Service.Name
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.flights[name]; f != nil {
		f.events = append(f.events, ev)
	}
	e := s.cache[name]
	if e == nil {
		return
	}
	ne := e.with(ev)
	ne.fetched, ne.epoch, ne.retryAt, ne.health = e.fetched, e.epoch, e.retryAt, e.health
	ne.used.Store(e.used.Load())
	s.storeLocked(name, ne)
}

// storeLocked caches e for service and brings its health up to date.
func (s *defaultSelector) storeLocked(service string, e *entry) {
	if e.used.Load() == 0 {
		e.used.Store(s.clock.Add(1))
	}
	s.cache[service] = e
	e.health.resizeLocked(e)
}

// has reports whether e has a node with the given ID.
func (e *entry) has(id string) bool { return findNode(e.nodes, id) != nil }

// newEntry builds an entry from a registry snapshot (which the selector
// owns, as registry results are copies).
func newEntry(svcs []*registry.Service) *entry {
	svcs = slices.DeleteFunc(svcs, func(s *registry.Service) bool { return s == nil })
	return &entry{services: svcs, nodes: flatten(svcs)}
}

// with returns a new entry: e with ev applied. A Create or Update puts each
// node of the event in the event's version (removing it from any other
// version) and takes that version's metadata and endpoints from the event;
// a Delete removes the nodes. Versions left without nodes are dropped.
func (e *entry) with(ev *registry.Event) *entry {
	if ev == nil || ev.Service == nil {
		return e
	}
	upsert := ev.Type == registry.Create || ev.Type == registry.Update
	if !upsert && ev.Type != registry.Delete {
		return e // unknown event type
	}
	ids := make(map[string]bool, len(ev.Service.Nodes))
	for _, n := range ev.Service.Nodes {
		if n != nil {
			ids[n.ID] = true
		}
	}
	v := ev.Service.Version
	out := make([]*registry.Service, 0, len(e.services)+1)
	placed := false
	for _, svc := range e.services {
		c := *svc
		here := upsert && svc.Version == v
		if here {
			c, placed = *ev.Service.CopyWithoutNodes(), true
		}
		c.Nodes = slices.DeleteFunc(slices.Clone(svc.Nodes), func(n *registry.Node) bool { return ids[n.ID] })
		if here {
			c.Nodes = appendCopies(c.Nodes, ev.Service.Nodes)
		}
		if len(c.Nodes) > 0 {
			out = append(out, &c)
		}
	}
	if upsert && !placed {
		c := ev.Service.CopyWithoutNodes()
		if c.Nodes = appendCopies(nil, ev.Service.Nodes); len(c.Nodes) > 0 {
			out = append(out, c)
		}
	}
	return &entry{services: out, nodes: flatten(out)}
}

func appendCopies(dst, nodes []*registry.Node) []*registry.Node {
	for _, n := range nodes {
		if n != nil {
			dst = append(dst, n.Copy())
		}
	}
	return dst
}

// flatten returns the nodes of svcs in one new slice sorted by ID.
func flatten(svcs []*registry.Service) []*registry.Node {
	count := 0
	for _, s := range svcs {
		if s != nil {
			count += len(s.Nodes)
		}
	}
	nodes := make([]*registry.Node, 0, count)
	for _, s := range svcs {
		if s == nil {
			continue
		}
		for _, n := range s.Nodes {
			if n != nil {
				nodes = append(nodes, n)
			}
		}
	}
	slices.SortStableFunc(nodes, compareNodes)
	return nodes
}

// evictLocked drops least recently selected services while the cache holds
// more than the bound (WithMaxServices), never keep (the one just stored).
// It scans the cache, O(services), and runs only when a fetch adds a
// service.
func (s *defaultSelector) evictLocked(keep string) {
	for s.cfg.maxServices > 0 && len(s.cache) > s.cfg.maxServices {
		victim, oldest := "", uint64(0)
		for name, e := range s.cache {
			if name == keep {
				continue
			}
			if u := e.used.Load(); victim == "" || u < oldest {
				victim, oldest = name, u
			}
		}
		if victim == "" {
			return
		}
		delete(s.cache, victim)
	}
}
