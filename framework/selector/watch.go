package selector

import (
	"time"

	"github.com/microsim/microsim/framework/registry"
)

// watchLoop is the selector's one goroutine: it keeps a registry watch over
// all services and applies its events to the cache until Close. When Watch
// fails, or Next fails for any reason but Close (a watcher stopped by the
// registry included), it waits a jittered, doubling backoff and watches
// again; every successful Watch starts a new epoch, which makes each cached
// entry refetch on its next Select, since events may have been missed.
func (s *defaultSelector) watchLoop() {
	defer s.wg.Done()
	ready := false
	markReady := func() {
		if !ready {
			ready = true
			close(s.ready)
		}
	}
	defer markReady()

	backoff := minWatchBackoff
	for {
		w, err := s.reg.Watch(s.ctx)
		if err == nil {
			if !s.setWatcher(w) {
				w.Stop()
				return
			}
			markReady()
			start := time.Now()
			gotEvents := s.consume(w)
			s.clearWatcher(w)
			w.Stop()
			// A watch that worked for a while resets the backoff; one that
			// fails straight away keeps growing it.
			if gotEvents || time.Since(start) >= maxWatchBackoff {
				backoff = minWatchBackoff
			}
		}
		markReady()
		if s.ctx.Err() != nil || !s.sleep(s.jitter(backoff)) {
			return
		}
		backoff = min(2*backoff, maxWatchBackoff)
	}
}

// consume applies the events of w until Next fails; it reports whether any
// event arrived.
func (s *defaultSelector) consume(w registry.Watcher) bool {
	got := false
	for {
		ev, err := w.Next(s.ctx)
		if err != nil {
			return got
		}
		got = true
		s.apply(ev)
	}
}

// setWatcher records w as the current watch and starts a new epoch; it
// reports false if the selector was closed meanwhile.
func (s *defaultSelector) setWatcher(w registry.Watcher) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.watcher = w
	s.epoch++
	return true
}

func (s *defaultSelector) clearWatcher(w registry.Watcher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watcher == w {
		s.watcher = nil
	}
}

// jitter returns a duration in [d/2, d]. Only the watch goroutine calls it.
func (s *defaultSelector) jitter(d time.Duration) time.Duration {
	half := d / 2
	return half + time.Duration(s.cfg.rng.Int64N(int64(d-half)+1))
}

// sleep waits d on a timer; it reports false if Close came first.
func (s *defaultSelector) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}
