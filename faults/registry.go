package faults

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/registry"
)

// RegistryFault acts on the registry as the Nodes it targets see it,
// through the registry that WrapRegistry returns for each node.
type RegistryFault struct {
	// Nodes are the nodes whose registry client is affected (zero: every
	// node, that is the registry itself).
	Nodes Target
	// Unavailable fails registry calls with errors wrapping
	// registry.ErrUnavailable, and breaks the nodes' watches. Servers
	// among the Nodes cannot heartbeat, so their entries expire when their
	// TTL passes; to model clients cut off from a registry that still
	// works, target only the clients.
	Unavailable bool
	// Rate is the share of calls that fail while Unavailable, in [0, 1];
	// 0 means every call.
	Rate float64
	// Ghosts keeps nodes that were removed (deregistered or expired) while
	// the fault is in effect listed this long: GetService still returns
	// them and watchers get their Delete this late.
	Ghosts time.Duration
	// WatchDelay delays every watch event this long.
	WatchDelay time.Duration
	// Flap makes the registrations of the Nodes flap: for Flap they are
	// withdrawn (each heartbeat deregisters the node instead of
	// registering it), for the next Flap they are made as usual, and so on,
	// starting withdrawn.
	Flap time.Duration
}

func (RegistryFault) kind() string { return "registry" }

func (r RegistryFault) validate(c *check, nodes map[string]NodeInfo) {
	r.Nodes.validate(c, "nodes", nodes)
	c.prob("rate", r.Rate)
	if r.Rate != 0 && !r.Unavailable {
		c.failf("rate", "applies to unavailable only")
	}
	c.nonNeg("ghosts", r.Ghosts)
	c.nonNeg("watchDelay", r.WatchDelay)
	c.nonNeg("flap", r.Flap)
	if !r.Unavailable && r.Ghosts == 0 && r.WatchDelay == 0 && r.Flap == 0 {
		c.failf("", "no effect: set unavailable, ghosts, watchDelay or flap")
	}
}

func (r RegistryFault) build(f *Fault) behaviour { return &regFault{f: f, spec: r} }

// regFault is a RegistryFault's behaviour.
type regFault struct {
	f    *Fault
	spec RegistryFault
	run  *regRun // guarded by f.mu
}

// regRun is one activation of a registry fault.
type regRun struct {
	rf      *regFault
	nodes   nodeSet
	started time.Time
}

func (r *regFault) start(_ context.Context, nodes map[string]NodeInfo) ([]string, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	r.run = &regRun{rf: r, nodes: r.spec.Nodes.resolve(nodes, r.f.rng), started: time.Now()}
	return r.run.nodes.names(), nil
}

func (r *regFault) stop(context.Context) error { r.release(); return nil }

func (r *regFault) release() {
	r.f.mu.Lock()
	r.run = nil
	r.f.mu.Unlock()
}

func (r *regFault) register(a *activeSet) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	if r.run != nil {
		a.regs = append(a.regs, r.run)
	}
}

// WrapRegistry returns reg as node sees it under the registry faults. It
// does not block; the registry's calls block as reg's do.
// Watchers it returns run one goroutine each (to time their events);
// Stop stops it.
func (inj *Injector) WrapRegistry(node string, reg registry.Registry) registry.Registry {
	return &faultRegistry{inj: inj, node: node, reg: reg, books: make(map[string]*ghostBook)}
}

type faultRegistry struct {
	inj  *Injector
	node string
	reg  registry.Registry

	mu    sync.Mutex
	books map[string]*ghostBook // by service: what GetService returned
}

// runs returns the registry faults in effect for the node.
func (r *faultRegistry) runs() []*regRun {
	var out []*regRun
	for _, run := range r.inj.active.Load().regs {
		if run.nodes.has(r.node) {
			out = append(out, run)
		}
	}
	return out
}

// unavailable returns the error of a call that an Unavailable fault fails.
func (r *faultRegistry) unavailable(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, run := range r.runs() {
		s, f := &run.rf.spec, run.rf.f
		if !s.Unavailable {
			continue
		}
		f.mu.Lock()
		f.seenLocked()
		hit := s.Rate == 0 || s.Rate == 1 || f.streamLocked("registry:"+r.node).Float64() < s.Rate
		f.mu.Unlock()
		if hit {
			f.act(Touch{Action: "unavailable", Node: r.node})
			return fmt.Errorf("faults: registry fault %q: %s from %s: %w", f.name, op, r.node, registry.ErrUnavailable)
		}
	}
	return nil
}

// Register registers s, unless the registry is unavailable or the node's
// registrations are withdrawn by a flap (then it deregisters s and
// reports success, as a heartbeat that was lost on the way would).
func (r *faultRegistry) Register(ctx context.Context, s *registry.Service, opts ...registry.RegisterOption) error {
	if err := r.unavailable(ctx, "register"); err != nil {
		return err
	}
	now := time.Now()
	for _, run := range r.runs() {
		fl := run.rf.spec.Flap
		if fl > 0 && (now.Sub(run.started)/fl)%2 == 0 {
			_ = r.reg.Deregister(ctx, s)
			run.rf.f.act(Touch{Action: "flapped", Node: r.node})
			return nil
		}
	}
	return r.reg.Register(ctx, s, opts...)
}

func (r *faultRegistry) Deregister(ctx context.Context, s *registry.Service) error {
	if err := r.unavailable(ctx, "deregister"); err != nil {
		return err
	}
	return r.reg.Deregister(ctx, s)
}

func (r *faultRegistry) ListServices(ctx context.Context) ([]*registry.Service, error) {
	if err := r.unavailable(ctx, "list services"); err != nil {
		return nil, err
	}
	return r.reg.ListServices(ctx)
}

// GetService returns the service's nodes, with the ghosts of removed nodes
// while a Ghosts fault is in effect.
func (r *faultRegistry) GetService(ctx context.Context, name string) ([]*registry.Service, error) {
	if err := r.unavailable(ctx, "get service "+name); err != nil {
		return nil, err
	}
	svcs, err := r.reg.GetService(ctx, name)
	if err != nil && !errors.Is(err, registry.ErrNotFound) {
		return nil, err
	}
	var ghostRun *regRun
	for _, run := range r.runs() {
		if g := run.rf.spec.Ghosts; g > 0 && (ghostRun == nil || g > ghostRun.rf.spec.Ghosts) {
			ghostRun = run
		}
	}
	keep := time.Duration(0)
	if ghostRun != nil {
		keep = ghostRun.rf.spec.Ghosts
	}
	r.mu.Lock()
	book := r.books[name]
	if book == nil {
		book = &ghostBook{nodes: make(map[string]*ghostNode)}
		r.books[name] = book
	}
	ghosts := book.update(svcs, time.Now(), keep)
	r.mu.Unlock()
	if len(ghosts) == 0 {
		return svcs, err
	}
	for range ghosts {
		ghostRun.rf.f.act(Touch{Action: "ghost", Node: r.node, Service: name})
	}
	return withGhosts(svcs, ghosts), nil
}

func (r *faultRegistry) Watch(ctx context.Context, opts ...registry.WatchOption) (registry.Watcher, error) {
	if err := r.unavailable(ctx, "watch"); err != nil {
		return nil, err
	}
	w, err := r.reg.Watch(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return r.newWatcher(w), nil
}

// ghostBook remembers the nodes GetService returned for one service, and
// since when each has been missing.
type ghostBook struct {
	nodes map[string]*ghostNode // by node ID
}

type ghostNode struct {
	svc          *registry.Service // holding just this node
	missingSince time.Time         // zero while listed
}

// update records a fresh result (nil when the service is not found) and
// returns the nodes missing from it for less than keep (none when keep is
// 0, and then the missing are forgotten).
func (b *ghostBook) update(svcs []*registry.Service, now time.Time, keep time.Duration) []*registry.Service {
	seen := make(map[string]bool)
	for _, s := range svcs {
		for _, n := range s.Nodes {
			one := s.CopyWithoutNodes()
			one.Nodes = []*registry.Node{n.Copy()}
			b.nodes[n.ID] = &ghostNode{svc: one}
			seen[n.ID] = true
		}
	}
	var ghosts []*registry.Service
	for _, id := range slices.Sorted(maps.Keys(b.nodes)) {
		g := b.nodes[id]
		if seen[id] {
			continue
		}
		if g.missingSince.IsZero() {
			g.missingSince = now
		}
		if now.Sub(g.missingSince) >= keep {
			delete(b.nodes, id)
			continue
		}
		ghosts = append(ghosts, g.svc)
	}
	return ghosts
}

// withGhosts adds ghost nodes to svcs, each in the version it had.
func withGhosts(svcs []*registry.Service, ghosts []*registry.Service) []*registry.Service {
	out := make([]*registry.Service, 0, len(svcs)+len(ghosts))
	for _, s := range svcs {
		out = append(out, s.Copy())
	}
	for _, g := range ghosts {
		i := slices.IndexFunc(out, func(s *registry.Service) bool { return s.Version == g.Version })
		if i < 0 {
			out = append(out, g.Copy())
			continue
		}
		out[i].Nodes = append(out[i].Nodes, g.Nodes[0].Copy())
	}
	return out
}
