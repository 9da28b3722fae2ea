package consul

import (
	"context"
	"reflect"
	"time"

	"github.com/microsim/microsim/framework/registry"
)

// Retry backoff of a watcher's queries while Consul is unreachable.
const (
	retryMin = 50 * time.Millisecond
	retryMax = 5 * time.Second
)

// watchService follows one service with blocking health queries until its
// ctx ends or apply tells it to stop.
func (w *watcher) watchService(ctx context.Context, sw *serviceWatch, index uint64) {
	defer w.wg.Done()
	defer sw.cancel()
	backoff := retryMin
	for {
		start := w.r.writeSeq.Load()
		nodes, next, err := w.r.health(ctx, sw.name, index)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, retryMax)
			continue
		}
		backoff = retryMin
		goOn, stale := w.apply(sw, nodes, start)
		switch {
		case !goOn:
			return
		case stale:
			index = 0 // a non-blocking query, started after those writes
		default:
			index = nextIndex(index, next)
		}
	}
}

// watchCatalog follows the catalog's service list (watch-all only): it starts
// a health goroutine for each new service and retires those that left.
func (w *watcher) watchCatalog(index uint64) {
	defer w.wg.Done()
	backoff := retryMin
	for {
		names, next, err := w.r.services(w.ctx, index)
		if w.ctx.Err() != nil {
			return
		}
		if err != nil {
			if !sleep(w.ctx, backoff) {
				return
			}
			backoff = min(2*backoff, retryMax)
			continue
		}
		backoff = retryMin
		w.mu.Lock()
		if w.stopped {
			w.mu.Unlock()
			return
		}
		listed := make(map[string]bool, len(names))
		for _, name := range names {
			listed[name] = true
			if sw, ok := w.services[name]; ok {
				sw.listed = true
			} else {
				w.startLocked(name, true, 0)
			}
		}
		for name, sw := range w.services {
			if listed[name] {
				continue
			}
			sw.listed = false
			if len(sw.nodes) == 0 && len(sw.lastWrite) == 0 {
				delete(w.services, name)
				sw.cancel()
			}
		}
		w.mu.Unlock()
		index = nextIndex(index, next)
	}
}

// sameService reports whether two one-node services hold the same data.
func sameService(a, b *registry.Service) bool { return reflect.DeepEqual(a, b) }

// nextIndex applies Consul's rules for blocking query indexes: an index that
// goes backwards resets the query, and an index is never zero after the
// first answer.
func nextIndex(prev, next uint64) uint64 {
	if next < prev {
		return 0 // next query is non-blocking and learns the index again
	}
	return max(next, 1)
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
