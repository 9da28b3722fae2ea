package memory

import (
	"context"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/registry"
)

// regWatcher is a registry.Watcher of the in-memory registry. Its queue is
// unbounded, so no event is ever dropped and emitting never blocks; Next
// waits on the notify channel (capacity 1), never with the mutex held.
//
// Next returns, in order of precedence: registry.ErrWatcherStopped after
// Stop (queued events are dropped), ctx.Err() once ctx is done, an error
// wrapping registry.ErrUnavailable while the watcher's host is down (events
// keep being queued and are returned after Restart; a Next already waiting
// when the host crashes notices at the next event), else the next event.
type regWatcher struct {
	s       *registryState
	h       *Host
	service string // "" watches every service

	notify chan struct{} // capacity 1: "the queue may be non-empty"
	done   chan struct{} // closed by Stop

	mu      sync.Mutex
	queue   []*registry.Event
	stopped bool
}

// watch creates a watcher of service ("" for all) for host h.
func (s *registryState) watch(h *Host, service string) (registry.Watcher, error) {
	w := &regWatcher{
		s:       s,
		h:       h,
		service: service,
		notify:  make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errRegistryClosed
	}
	s.watchers[w] = struct{}{}
	return w, nil
}

// emitLocked queues an event about svc (which holds exactly one node) for
// every interested watcher, each with its own copy. The caller holds s.mu,
// which gives all watchers the same order.
func (s *registryState) emitLocked(t registry.EventType, svc *registry.Service) {
	now := time.Now()
	for w := range s.watchers {
		if w.service == "" || w.service == svc.Name {
			w.push(&registry.Event{Type: t, Service: svc.Copy(), Timestamp: now})
		}
	}
}

// push appends ev to the queue. It does not block.
func (w *regWatcher) push(ev *registry.Event) {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	w.queue = append(w.queue, ev)
	w.mu.Unlock()
	w.signal()
}

func (w *regWatcher) signal() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// pop returns the next queued event, or an error if Next must not wait.
func (w *regWatcher) pop(ctx context.Context) (*registry.Event, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return nil, registry.ErrWatcherStopped
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !w.h.Up() {
		return nil, w.h.errDown(registry.ErrUnavailable)
	}
	if len(w.queue) == 0 {
		return nil, nil
	}
	ev := w.queue[0]
	w.queue[0] = nil
	w.queue = w.queue[1:]
	if len(w.queue) == 0 {
		w.queue = nil
	} else {
		// Another Next may be waiting for the events that remain.
		w.signal()
	}
	return ev, nil
}

// Next blocks until an event is queued, Stop, or ctx is done. It may be
// called concurrently with Stop and with itself.
func (w *regWatcher) Next(ctx context.Context) (*registry.Event, error) {
	for {
		ev, err := w.pop(ctx)
		if err != nil || ev != nil {
			return ev, err
		}
		select {
		case <-w.notify:
		case <-w.done:
		case <-ctx.Done():
		}
	}
}

// Stop ends the watch: queued events are dropped and Next returns
// registry.ErrWatcherStopped. It does not block. Idempotent.
func (w *regWatcher) Stop() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	w.stopped = true
	w.queue = nil
	close(w.done)
	w.mu.Unlock()

	w.s.mu.Lock()
	delete(w.s.watchers, w)
	w.s.mu.Unlock()
}
