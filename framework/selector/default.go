package selector

import (
	"context"
	"errors"
	"sync"

	"github.com/microsim/microsim/framework/registry"
)

// New returns the default Selector over reg. It does not block and starts
// nothing: the first Select starts one goroutine that watches the registry
// and keeps the cache current; Close stops it and waits for it. (The first
// fetches wait for that goroutine's first Watch call to return, successful
// or not, so that no event can fall between a snapshot and the watch.)
//
// Each service is fetched from the registry on its first Select and cached;
// a watch over all services applies every event to the cached services, and
// an entry older than the cache TTL (WithCacheTTL) is refetched on the next
// Select. When the watch breaks it is re-established with exponential
// backoff (100ms doubling to 5s, jittered), and every entry is refetched on
// its next Select since events may have been missed. When a refetch fails
// and a previous entry exists, the previous entry is served (stale while
// error) and the registry is asked again after at most a second.
//
// Nodes returned by a Next are shared with the cache: callers must not
// modify them.
//
// The returned Selector also implements StatsReporter. In a
// testing/synctest bubble, create it inside the bubble that uses it.
func New(reg registry.Registry, opts ...Option) (Selector, error) {
	if reg == nil {
		return nil, errors.New("selector: nil registry")
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &defaultSelector{
		reg:     reg,
		cfg:     cfg,
		ctx:     ctx,
		cancel:  cancel,
		ready:   make(chan struct{}),
		cache:   make(map[string]*entry),
		flights: make(map[string]*flight),
		stats:   make(map[string]map[string]*nodeCounters),
	}
	s.feedback, _ = cfg.strategy.(Feedback)
	return s, nil
}

// defaultSelector is the Selector that New returns.
type defaultSelector struct {
	reg      registry.Registry
	cfg      config
	feedback Feedback // cfg.strategy, if it implements Feedback

	// ctx is cancelled by Close; it bounds the watch goroutine.
	ctx    context.Context
	cancel context.CancelFunc
	// ready is closed once the watch goroutine has made its first Watch
	// attempt (or exited), so first fetches do not race the watch setup.
	ready chan struct{}
	wg    sync.WaitGroup

	// mu guards everything below. It is never held across a registry call
	// or a channel operation.
	mu      sync.Mutex
	closed  bool
	started bool
	watcher registry.Watcher // the current watch, stopped by Close
	// epoch counts successful Watch calls; an entry fetched in an earlier
	// epoch may have missed events and is refetched on its next Select.
	epoch   uint64
	cache   map[string]*entry
	flights map[string]*flight
	stats   map[string]map[string]*nodeCounters
}

// Select implements Selector. It blocks only when the service is not cached
// or its entry is due for a refetch: then it asks the registry, honouring
// ctx. It returns an error wrapping ErrClosed after Close, ErrNotFound when
// the registry does not know the service, and ErrNoneAvailable when no node
// is left after the filters.
func (s *defaultSelector) Select(ctx context.Context, service string, opts ...SelectOption) (Next, error) {
	var so SelectOptions
	if len(opts) > 0 {
		so = selectOptions(opts)
	}
	e, err := s.lookup(ctx, service)
	if err != nil {
		return nil, err
	}
	nodes := e.nodes
	if len(s.cfg.filters) > 0 || len(so.Filters) > 0 {
		svcs := e.services
		for _, f := range s.cfg.filters {
			svcs = f(svcs)
		}
		for _, f := range so.Filters {
			if f != nil {
				svcs = f(svcs)
			}
		}
		nodes = flatten(svcs)
	}
	if len(nodes) == 0 {
		return nil, exhausted(service, 0)
	}
	strategy := so.Strategy
	if strategy == nil {
		strategy = s.cfg.strategy
	}
	return strategy.Pick(service, nodes), nil
}

// selectOptions applies opts. It is separate from Select so that a Select
// without options does not pay for the SelectOptions escaping to the heap.
func selectOptions(opts []SelectOption) SelectOptions {
	var so SelectOptions
	for _, o := range opts {
		if o != nil {
			o(&so)
		}
	}
	return so
}

// Mark implements Selector: it counts the outcome for the node and forwards
// it to the default strategy if that implements Feedback. It does not block.
func (s *defaultSelector) Mark(service string, node *registry.Node, err error) {
	if node == nil {
		return
	}
	s.mu.Lock()
	s.countLocked(service, node, err)
	s.mu.Unlock()
	if s.feedback != nil {
		s.feedback.Mark(service, node, err)
	}
}

// Close implements Selector: it stops the watch and waits for its goroutine.
// Selects after Close fail with ErrClosed. Idempotent.
func (s *defaultSelector) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	w := s.watcher
	s.watcher = nil
	s.mu.Unlock()
	s.cancel()
	if w != nil {
		w.Stop()
	}
	s.wg.Wait()
	return nil
}

// startLocked starts the watch goroutine on first use.
func (s *defaultSelector) startLocked() {
	if s.started {
		return
	}
	s.started = true
	s.wg.Add(1)
	go s.watchLoop()
}
