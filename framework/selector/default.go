package selector

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

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
// error) and the registry is asked again after at most a second. The cache
// holds at most WithMaxServices services, evicting the least recently
// selected.
//
// A Select runs the cached nodes through, in order: outlier ejection
// (WithOutlierDetection) dropping the ejected nodes, the selector's filters
// (WithFilter given to New), the call's filters, and the strategy (the
// call's WithStrategy, else the selector's, default RoundRobin). Without
// per-call filters the first two stages are cached per node set, and the
// state behind a Pick (and the strategy's Picker, for the strategies of
// this package) is recycled when the call releases it, so a Select, its
// Nexts and the attempts' Begin/done (or Mark) allocate nothing in steady
// state. Per-call options given as a slice the caller keeps (as the
// client's call options do) cost nothing either.
//
// Nodes returned by a Pick are shared with the cache: callers must not
// modify them.
//
// The returned Selector also implements Tracker (and forwards each
// attempt's Begin/End to a strategy that implements LoadFeedback) and
// StatsReporter. In a testing/synctest bubble, create it inside the bubble
// that uses it.
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
	}
	s.feedback, _ = cfg.strategy.(Feedback)
	s.load, _ = cfg.strategy.(LoadFeedback)
	s.noop = func(error) {}
	s.options.New = func() any { return new(SelectOptions) }
	s.picks.New = func() any { return &pickState{pool: &s.picks} }
	s.attempts.New = func() any {
		a := &attempt{}
		a.done = a.end
		return a
	}
	return s, nil
}

// defaultSelector is the Selector that New returns.
type defaultSelector struct {
	reg      registry.Registry
	cfg      config
	feedback Feedback     // cfg.strategy, if it implements Feedback
	load     LoadFeedback // cfg.strategy, if it implements LoadFeedback
	noop     func(error)  // the done of an untracked attempt
	attempts sync.Pool    // of *attempt, for Begin
	options  sync.Pool    // of *SelectOptions, for Select
	picks    sync.Pool    // of *pickState, the state behind Select's Picks

	// ctx is cancelled by Close; it bounds the watch goroutine.
	ctx    context.Context
	cancel context.CancelFunc
	// ready is closed once the watch goroutine has made its first Watch
	// attempt (or exited), so first fetches do not race the watch setup.
	ready chan struct{}
	wg    sync.WaitGroup
	// clock orders Selects for the LRU bound of the cache.
	clock atomic.Uint64

	// mu guards everything below. It is never held across a registry call
	// or a channel operation.
	mu      sync.RWMutex
	closed  bool
	started bool
	watcher registry.Watcher // the current watch, stopped by Close
	// epoch counts successful Watch calls; an entry fetched in an earlier
	// epoch may have missed events and is refetched on its next Select.
	epoch   uint64
	cache   map[string]*entry
	flights map[string]*flight
}

// Select implements Selector. It blocks only when the service is not cached
// or its entry is due for a refetch: then it asks the registry, honouring
// ctx. It returns an error wrapping ErrClosed after Close, ErrNotFound when
// the registry does not know the service, and ErrNoneAvailable when no node
// is left after the filters. The call owns the Pick and releases it (see
// Pick).
func (s *defaultSelector) Select(ctx context.Context, service string, opts ...SelectOption) (Pick, error) {
	if len(opts) == 0 {
		return s.selectWith(ctx, service, nil)
	}
	// The options are applied to a pooled SelectOptions, which the filters
	// and the strategy are done with when selectWith returns.
	so := s.options.Get().(*SelectOptions)
	for _, o := range opts {
		if o != nil {
			o(so)
		}
	}
	next, err := s.selectWith(ctx, service, so)
	clear(so.Filters)
	*so = SelectOptions{Filters: so.Filters[:0]}
	s.options.Put(so)
	return next, err
}

// selectWith is Select with its options applied (so may be nil).
func (s *defaultSelector) selectWith(ctx context.Context, service string, so *SelectOptions) (Pick, error) {
	e, err := s.lookup(ctx, service)
	if err != nil {
		return Pick{}, err
	}
	strategy, key := s.cfg.strategy, ""
	var filters []Filter
	if so != nil {
		if so.Strategy != nil {
			strategy = so.Strategy
		}
		filters, key = so.Filters, so.HashKey
	}
	nodes, probe := s.candidates(e, filters)
	if len(nodes) == 0 && probe == nil {
		return Pick{}, exhausted(service, 0)
	}
	var picker Picker
	if len(nodes) > 0 {
		if kp, ok := strategy.(KeyPicker); ok && key != "" {
			picker = kp.PickKey(service, key, nodes)
		} else {
			picker = strategy.Pick(service, nodes)
		}
	}
	st := s.picks.Get().(*pickState)
	st.mu.Lock()
	st.service, st.probe, st.picker = service, probe, picker
	p := Pick{st: st, gen: st.gen}
	st.mu.Unlock()
	return p, nil
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
