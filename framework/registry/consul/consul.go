package consul

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/microsim/microsim/framework/registry"
)

// DefaultTag marks the Consul service instances this registry owns.
const DefaultTag = "microsim"

// MinDeregisterAfter is Consul's floor for DeregisterCriticalServiceAfter.
const MinDeregisterAfter = time.Minute

// blockingWait is the WaitTime of a watcher's blocking queries.
const blockingWait = 5 * time.Minute

// errClosed is returned by every call after Close.
var errClosed = fmt.Errorf("consul: registry closed: %w", registry.ErrUnavailable)

// Registry is a registry.Registry backed by a Consul agent. It is safe for
// concurrent use. Close it to stop its watchers and free its connections.
type Registry struct {
	client          *api.Client
	httpClient      *http.Client // closed by Close only if ownTransport
	ownTransport    bool
	tag             string
	deregisterAfter time.Duration

	// writeSeq numbers the changes made through this registry (see
	// serviceWatch.lastWrite).
	writeSeq atomic.Uint64

	mu       sync.Mutex
	closed   bool
	watchers map[*watcher]struct{}
	written  map[string]*registry.Service // last data registered through r, by service ID
}

var _ registry.Registry = (*Registry)(nil)

type options struct {
	tag             string
	deregisterAfter time.Duration
}

// Option configures New.
type Option func(*options) error

// WithTag sets the Consul tag that marks this registry's service instances
// (DefaultTag if not given). Registries with different tags do not see each
// other's services.
func WithTag(tag string) Option {
	return func(o *options) error {
		if tag == "" {
			return errors.New("consul: empty tag")
		}
		o.tag = tag
		return nil
	}
}

// WithDeregisterAfter sets how long a node may stay critical (expired)
// before Consul removes it from its catalog: DeregisterCriticalServiceAfter
// of its TTL check. Consul's minimum is one minute, the default. An expired
// node is invisible to this registry long before that (see package doc).
func WithDeregisterAfter(d time.Duration) Option {
	return func(o *options) error {
		if d < MinDeregisterAfter {
			return fmt.Errorf("consul: deregister-after %v is below Consul's minimum %v", d, MinDeregisterAfter)
		}
		o.deregisterAfter = d
		return nil
	}
}

// New returns a registry talking to the Consul agent described by cfg;
// nil means api.DefaultConfig() (127.0.0.1:8500 unless CONSUL_HTTP_ADDR
// and friends say otherwise). cfg is copied, not modified. When cfg has
// neither Transport nor HttpClient, the registry creates and owns its HTTP
// transport and Close closes its idle connections. New does not contact
// Consul and does not block.
func New(cfg *api.Config, opts ...Option) (*Registry, error) {
	o := options{tag: DefaultTag, deregisterAfter: MinDeregisterAfter}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	var c api.Config
	if cfg == nil {
		c = *api.DefaultConfig()
	} else {
		c = *cfg
	}
	own := c.HttpClient == nil && c.Transport == nil
	if own {
		c.Transport = api.DefaultConfig().Transport
	}
	client, err := api.NewClient(&c)
	if err != nil {
		return nil, fmt.Errorf("consul: new client: %w", err)
	}
	return &Registry{
		client:          client,
		httpClient:      c.HttpClient,
		ownTransport:    own,
		tag:             o.tag,
		deregisterAfter: o.deregisterAfter,
		watchers:        make(map[*watcher]struct{}),
		written:         make(map[string]*registry.Service),
	}, nil
}

// Client returns the underlying Consul API client.
func (r *Registry) Client() *api.Client { return r.client }

// Close stops every watcher made through r, waits for their goroutines and
// closes idle connections of a transport r created. Registered nodes stay
// registered (and expire by their TTL). Calls after Close fail with an error
// wrapping registry.ErrUnavailable. Idempotent; blocks until the watchers
// have stopped.
func (r *Registry) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	ws := make([]*watcher, 0, len(r.watchers))
	for w := range r.watchers {
		ws = append(ws, w)
	}
	r.mu.Unlock()
	for _, w := range ws {
		w.Stop()
	}
	if r.ownTransport && r.httpClient != nil {
		r.httpClient.CloseIdleConnections()
	}
	return nil
}

func (r *Registry) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// addWatcher tracks w until it stops; it fails once r is closed.
func (r *Registry) addWatcher(w *watcher) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errClosed
	}
	r.watchers[w] = struct{}{}
	return nil
}

// noteWrite reports a completed change made through r to r's watchers:
// node nodeID of service name now holds svc (one node), or is gone (nil).
// Registering the data last registered (a heartbeat) is no change: whether
// the node is live is then left to Consul's health, which the watchers'
// queries follow.
func (r *Registry) noteWrite(name, nodeID string, svc *registry.Service) {
	id := serviceID(name, nodeID)
	r.mu.Lock()
	if svc == nil {
		delete(r.written, id)
	} else if prev, ok := r.written[id]; ok && sameService(prev, svc) {
		r.mu.Unlock()
		return
	} else {
		r.written[id] = svc
	}
	seq := r.writeSeq.Add(1)
	ws := make([]*watcher, 0, len(r.watchers))
	for w := range r.watchers {
		ws = append(ws, w)
	}
	r.mu.Unlock()
	for _, w := range ws {
		w.local(name, nodeID, svc, seq)
	}
}

func (r *Registry) removeWatcher(w *watcher) {
	r.mu.Lock()
	delete(r.watchers, w)
	r.mu.Unlock()
}

// wrap classifies an error of the Consul client for the registry's callers.
func wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var se api.StatusError
	if errors.As(err, &se) {
		switch {
		case se.Code >= 500 || se.Code == http.StatusTooManyRequests:
			return fmt.Errorf("consul: %s: %w: %w", op, registry.ErrUnavailable, err)
		case se.Code == http.StatusBadRequest:
			return fmt.Errorf("consul: %s: %w: %w", op, registry.ErrInvalid, err)
		}
		return fmt.Errorf("consul: %s: %w", op, err)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		// The caller gave up; Consul was not necessarily unreachable.
		return fmt.Errorf("consul: %s: %w", op, ctx.Err())
	}
	return fmt.Errorf("consul: %s: %w: %w", op, registry.ErrUnavailable, err)
}

// isNotFound reports a 404 answer.
func isNotFound(err error) bool {
	var se api.StatusError
	return errors.As(err, &se) && se.Code == http.StatusNotFound
}
