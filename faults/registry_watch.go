package faults

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/registry"
)

// faultWatcher times a watch's events: a reader goroutine takes each event
// as it arrives and queues it with the time it is due (now, plus any watch
// delay; a Delete under a Ghosts fault that much later, unless the node
// comes back first); Next hands out events once due, in due order (arrival
// order among equals). An Unavailable fault that starts breaks the watch.
type faultWatcher struct {
	r      *faultRegistry
	under  registry.Watcher
	cancel context.CancelFunc
	done   chan struct{} // closed when the reader returned
	stopCh chan struct{} // closed by Stop

	once   sync.Once
	mu     sync.Mutex
	queue  []pendingEvent // sorted by (at, seq)
	seq    uint64
	end    error // why the reader stopped
	broken error // set when an Unavailable fault broke the watch
	notify chan struct{}
}

type pendingEvent struct {
	ev  *registry.Event
	at  time.Time
	seq uint64
}

// newWatcher wraps w; once the injector is closed it returns w itself.
func (r *faultRegistry) newWatcher(w registry.Watcher) registry.Watcher {
	ctx, cancel := context.WithCancel(r.inj.ctx)
	fw := &faultWatcher{
		r:      r,
		under:  w,
		cancel: cancel,
		done:   make(chan struct{}),
		stopCh: make(chan struct{}),
		notify: make(chan struct{}, 1),
	}
	if !r.inj.goTracked(func() { fw.read(ctx) }) {
		cancel()
		return w
	}
	return fw
}

// read is the reader goroutine.
func (w *faultWatcher) read(ctx context.Context) {
	defer close(w.done)
	for {
		ev, err := w.under.Next(ctx)
		if err != nil {
			w.mu.Lock()
			w.end = err
			w.mu.Unlock()
			signal(w.notify)
			return
		}
		w.schedule(ev)
	}
}

// schedule queues ev at the time it is due.
func (w *faultWatcher) schedule(ev *registry.Event) {
	now := time.Now()
	at := now
	var ghost *regRun
	for _, run := range w.r.runs() {
		s, f := &run.rf.spec, run.rf.f
		if s.WatchDelay > 0 {
			at = at.Add(s.WatchDelay)
			f.act(Touch{Action: "watch_delayed", Node: w.r.node, Service: serviceName(ev), Delay: s.WatchDelay})
		}
		if s.Ghosts > 0 && (ghost == nil || s.Ghosts > ghost.rf.spec.Ghosts) {
			ghost = run
		}
	}
	w.mu.Lock()
	if ev.Type == registry.Delete && ghost != nil {
		if g := now.Add(ghost.rf.spec.Ghosts); g.After(at) {
			at = g
		}
	} else if ev.Type != registry.Delete {
		w.dropDeletesLocked(ev)
	}
	w.seq++
	pe := pendingEvent{ev: ev, at: at, seq: w.seq}
	i, _ := slices.BinarySearchFunc(w.queue, pe, func(a, b pendingEvent) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return compareSeq(a.seq, b.seq)
	})
	w.queue = slices.Insert(w.queue, i, pe)
	w.mu.Unlock()
	if ev.Type == registry.Delete && ghost != nil {
		ghost.rf.f.act(Touch{Action: "ghost", Node: w.r.node, Service: serviceName(ev), Delay: at.Sub(now)})
	}
	signal(w.notify)
}

// dropDeletesLocked forgets the pending Deletes of the nodes ev brings back.
func (w *faultWatcher) dropDeletesLocked(ev *registry.Event) {
	if ev.Service == nil {
		return
	}
	w.queue = slices.DeleteFunc(w.queue, func(p pendingEvent) bool {
		if p.ev.Type != registry.Delete || p.ev.Service == nil || p.ev.Service.Name != ev.Service.Name {
			return false
		}
		for _, n := range p.ev.Service.Nodes {
			for _, m := range ev.Service.Nodes {
				if n != nil && m != nil && n.ID == m.ID {
					return true
				}
			}
		}
		return false
	})
}

func serviceName(ev *registry.Event) string {
	if ev.Service == nil {
		return ""
	}
	return ev.Service.Name
}

func compareSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Next returns the next due event. It fails with an error wrapping
// registry.ErrUnavailable once an Unavailable fault broke the watch.
func (w *faultWatcher) Next(ctx context.Context) (*registry.Event, error) {
	for {
		select {
		case <-w.stopCh:
			return nil, registry.ErrWatcherStopped
		default:
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		changed := w.r.inj.changes()
		if err := w.breakIfUnavailable(); err != nil {
			return nil, err
		}
		now := time.Now()
		var wait time.Duration
		w.mu.Lock()
		if len(w.queue) > 0 {
			top := w.queue[0]
			if !top.at.After(now) {
				w.queue = slices.Delete(w.queue, 0, 1)
				w.mu.Unlock()
				return top.ev, nil
			}
			wait = top.at.Sub(now)
		} else if w.end != nil {
			end := w.end
			w.mu.Unlock()
			if w.r.inj.ctx.Err() != nil {
				return nil, fmt.Errorf("faults: injector closed: %w", registry.ErrWatcherStopped)
			}
			return nil, end
		}
		w.mu.Unlock()
		var t *time.Timer
		var timer <-chan time.Time
		if wait > 0 {
			t = time.NewTimer(wait)
			timer = t.C
		}
		select {
		case <-w.notify:
		case <-timer:
		case <-changed:
		case <-ctx.Done():
		case <-w.stopCh:
		}
		if t != nil {
			t.Stop()
		}
	}
}

// breakIfUnavailable breaks the watch for good when an Unavailable fault
// of the node is in effect: the underlying watch stops and Next fails.
func (w *faultWatcher) breakIfUnavailable() error {
	w.mu.Lock()
	broken := w.broken
	w.mu.Unlock()
	if broken != nil {
		return broken
	}
	for _, run := range w.r.runs() {
		if !run.rf.spec.Unavailable {
			continue
		}
		f := run.rf.f
		err := fmt.Errorf("faults: registry fault %q: watch from %s broken: %w", f.name, w.r.node, registry.ErrUnavailable)
		w.mu.Lock()
		w.broken = err
		w.mu.Unlock()
		f.act(Touch{Action: "unavailable", Node: w.r.node})
		w.cancel()
		w.under.Stop()
		return err
	}
	return nil
}

// Stop ends the watch and waits for the reader. Idempotent.
func (w *faultWatcher) Stop() {
	w.once.Do(func() {
		close(w.stopCh)
		w.cancel()
		w.under.Stop()
	})
	<-w.done
}
