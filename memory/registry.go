package memory

// The in-memory registry.
//
// One registryState per Network holds every registered node; each host has a
// view of it (hostRegistry) that fails with registry.ErrUnavailable while the
// host is down. Nodes are keyed by (service name, node ID) and each remembers
// the version, metadata and endpoints of the Register call that last wrote
// it. Events are emitted while the state's mutex is held, so every watcher
// sees the same total order; they are queued per watcher without bound
// (registry_watch.go). A node with a TTL expires at a time a heartbeat
// moves; the state keeps one queue of expiries under one timer (which runs
// in virtual time inside a testing/synctest bubble), not a timer per node.
// A heartbeat may leave its renewals to the registry (registry.Standing,
// registry_stand.go) for as long as its host runs.

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/internal/tickq"
)

// registryState is the registry all hosts of a Network share.
type registryState struct {
	net      *Network
	mu       sync.Mutex
	closed   bool
	services map[string]map[string]*regNode // service name -> node ID -> node
	// renewals holds each one-node registration by the *Service it was
	// registered from, for a renewal (registry.Renewal) of that very
	// value to find its node without the lookups by name and ID and the
	// comparison of a heartbeat.
	renewals map[*registry.Service]*regNode
	watchers map[*regWatcher]struct{}
	seq      uint64 // counts node registrations; orders them
	// opts are the options of the Register running, applied under mu:
	// given to the options (functions), a RegisterOptions of Register's
	// own would escape to the heap, an allocation per heartbeat.
	opts registry.RegisterOptions
	// expiry holds an entry for every node with a TTL, at or before the
	// time it expires; timer fires at the earliest (timerAt). A heartbeat
	// moves only the node's expires: the entry, when it comes up, is
	// queued again for the node's new time (expireDue).
	expiry  expiryQueue
	timer   *time.Timer
	timerAt time.Time
	// broken are the calls due to the holders of standings broken under
	// mu; unlock makes them once mu is released.
	broken []brokenCall
}

// regNode is one registered node. The fields a heartbeat reads and
// writes come first: in a world of many nodes a node is out of the CPU's
// cache by its next heartbeat.
type regNode struct {
	// expires is when the node expires; zero without a TTL.
	expires time.Time
	// queued is the time of the node's live entry in the expiry queue;
	// zero when it has none (no TTL, removed, or renewed by the registry).
	// An entry of another time is stale: one of an earlier registration,
	// or one a heartbeat with a shorter TTL replaced by an earlier one.
	// Two entries of one time (registered anew at the instant of the
	// last) come up together, and the second finds the first handled the
	// node.
	queued time.Time
	// stand holds the node's renewals while the registry makes them
	// (registry_stand.go); nil when its heartbeat makes them.
	stand *regStand
	// from is the *Service the node was last registered from, its key in
	// renewals; nil if that registration held other nodes too.
	from *registry.Service

	// seq is the registry's counter of registrations when the node was
	// last registered (not renewed); the latest node of a version gives
	// the version its metadata and endpoints.
	seq uint64

	// svc is the node's own copy of its service holding exactly this node.
	svc *registry.Service
	// seen is svc laid out for heartbeats to be compared with.
	seen regSeen
}

func newRegistryState(n *Network) *registryState {
	return &registryState{
		net:      n,
		services: make(map[string]map[string]*regNode),
		renewals: make(map[*registry.Service]*regNode),
		watchers: make(map[*regWatcher]struct{}),
	}
}

// close stops the expiry timer and every watcher; later calls fail with
// registry.ErrUnavailable. Called by Network.Close. Idempotent.
func (s *registryState) close() {
	s.mu.Lock()
	// No host holds a standing: Network.Close crashed them all first,
	// which broke theirs (registry_stand.go).
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	s.expiry = expiryQueue{}
	ws := s.watchers
	s.watchers = make(map[*regWatcher]struct{})
	s.mu.Unlock()
	for w := range ws {
		w.Stop()
	}
}

var errRegistryClosed = fmt.Errorf("%w: network closed", registry.ErrUnavailable)

// register adds or refreshes the nodes of svc with opts. A heartbeat
// (the same one-node registration again) is told from the stored
// registration before anything else and costs no validation, copy or
// allocation: the stored registration was validated, so an equal svc is
// valid. A renewal of the *Service a node was registered from is taken
// at its word: it is not compared.
func (s *registryState) register(svc *registry.Service, opts []registry.RegisterOption) error {
	s.mu.Lock()
	defer s.unlock()
	s.opts = registry.RegisterOptions{}
	for _, opt := range opts {
		opt(&s.opts)
	}
	ttl := s.opts.TTL
	if ttl < 0 {
		return fmt.Errorf("%w: negative TTL %v", registry.ErrInvalid, ttl)
	}
	if s.closed {
		return errRegistryClosed
	}
	if ttl > 0 && s.opts.Renewal {
		// Found by the pointer alone: svc is not read.
		if e := s.renewals[svc]; e != nil && !e.expires.IsZero() {
			s.refreshLocked(e, ttl)
			return nil
		}
	}
	if ttl > 0 && svc != nil && len(svc.Nodes) == 1 && svc.Nodes[0] != nil {
		n := svc.Nodes[0]
		if e := s.services[svc.Name][n.ID]; e != nil && !e.expires.IsZero() && e.seen.same(svc, n) {
			s.refreshLocked(e, ttl)
			return nil
		}
	}
	if err := registry.Validate(svc); err != nil {
		return err
	}
	nodes := s.services[svc.Name]
	if nodes == nil {
		nodes = make(map[string]*regNode, len(svc.Nodes))
		s.services[svc.Name] = nodes
	}
	for _, n := range svc.Nodes {
		e, ok := nodes[n.ID]
		if ok && ttl > 0 && !e.expires.IsZero() && e.seen.same(svc, n) {
			s.refreshLocked(e, ttl)
			continue
		}
		if ok && e.stand != nil {
			s.breakLocked(e.stand, time.Now())
		}
		s.seq++
		one := svc.CopyWithoutNodes()
		one.Nodes = []*registry.Node{n.Copy()}
		switch {
		case !ok:
			e = &regNode{}
			nodes[n.ID] = e
			s.emitLocked(registry.Create, one)
		case !reflect.DeepEqual(e.svc, one):
			s.emitLocked(registry.Update, one)
		}
		e.svc, e.seq = one, s.seq
		e.seen.set(one)
		s.keepFromLocked(e, svc)
		e.expires, e.queued = time.Time{}, time.Time{}
		if ttl > 0 {
			e.expires = time.Now().Add(ttl)
			s.queueLocked(e)
		}
	}
	return nil
}

// keepFromLocked records that e was last registered from svc, which a
// renewal is to name (nil: none may).
func (s *registryState) keepFromLocked(e *regNode, svc *registry.Service) {
	if e.from != nil {
		delete(s.renewals, e.from)
		e.from = nil
	}
	if svc != nil && len(svc.Nodes) == 1 {
		if old := s.renewals[svc]; old != nil {
			old.from = nil // one value registered as another node since
		}
		e.from = svc
		s.renewals[svc] = e
	}
}

// refreshLocked handles a heartbeat of e, the same registration again:
// only its expiry moves (its queued entry stays), so
// a world of many instances pays no copy, allocation or timer per
// heartbeat. A renewal is not a registration: e stays as late in its
// version's order (seq) as it was.
func (s *registryState) refreshLocked(e *regNode, ttl time.Duration) {
	if e.stand != nil {
		s.breakLocked(e.stand, time.Now()) // renewed by another caller
	}
	e.expires = time.Now().Add(ttl)
	if e.expires.Before(e.queued) {
		s.queueLocked(e) // a shorter TTL than before
	}
}

// queueLocked adds an expiry entry for e at e.expires and arms the timer
// if it is the earliest.
func (s *registryState) queueLocked(e *regNode) {
	e.queued = e.expires
	s.expiry.push(expiryEntry{at: e.expires, e: e})
	s.armLocked()
}

// armLocked sets the timer to the earliest entry, if it is not set to it.
func (s *registryState) armLocked() {
	first, ok := s.expiry.first()
	if !ok {
		return // a timer still set fires for nothing, once
	}
	at := first.at
	if at.Equal(s.timerAt) {
		return
	}
	s.timerAt = at
	if s.timer == nil {
		s.timer = time.AfterFunc(time.Until(at), s.expireDue)
		return
	}
	s.timer.Reset(time.Until(at))
}

// expireDue removes the nodes whose time has come and queues again those
// whose time a heartbeat moved.
func (s *registryState) expireDue() {
	s.mu.Lock()
	defer s.unlock()
	if s.closed {
		return
	}
	now := time.Now()
	s.timerAt = time.Time{}
	for {
		x, ok := s.expiry.first()
		if !ok || x.at.After(now) {
			break
		}
		s.expiry.pop()
		e := x.e
		switch {
		case !x.at.Equal(e.queued):
			// Registered anew or queued earlier (with an entry of its
			// own), or removed.
		case e.stand != nil:
			// Renewed by the registry: it is queued again when that
			// stops.
			e.queued = time.Time{}
		case e.expires.After(now):
			e.queued = e.expires
			s.expiry.push(expiryEntry{at: e.expires, e: e})
		default:
			s.removeLocked(e.svc.Name, e.svc.Nodes[0].ID)
		}
	}
	s.armLocked()
}

// deregister removes the nodes of svc that are registered.
func (s *registryState) deregister(svc *registry.Service) error {
	s.mu.Lock()
	defer s.unlock()
	if s.closed {
		return errRegistryClosed
	}
	for _, n := range svc.Nodes {
		if n != nil {
			s.removeLocked(svc.Name, n.ID)
		}
	}
	return nil
}

// removeLocked removes one node, if present, and emits its Delete.
func (s *registryState) removeLocked(name, id string) {
	nodes := s.services[name]
	e, ok := nodes[id]
	if !ok {
		return
	}
	if e.stand != nil {
		s.breakLocked(e.stand, time.Now())
	}
	e.expires, e.queued = time.Time{}, time.Time{}
	s.keepFromLocked(e, nil)
	delete(nodes, id)
	if len(nodes) == 0 {
		delete(s.services, name)
	}
	s.emitLocked(registry.Delete, e.svc)
}

// versionsLocked groups the nodes of one service by version, sorted by
// version, each group sorted by node ID.
func versionsLocked(nodes map[string]*regNode) [][]*regNode {
	byVersion := make(map[string][]*regNode)
	for _, n := range nodes {
		byVersion[n.svc.Version] = append(byVersion[n.svc.Version], n)
	}
	groups := make([][]*regNode, 0, len(byVersion))
	for _, g := range byVersion {
		slices.SortFunc(g, func(a, b *regNode) int { return cmp.Compare(a.svc.Nodes[0].ID, b.svc.Nodes[0].ID) })
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b []*regNode) int { return cmp.Compare(a[0].svc.Version, b[0].svc.Version) })
	return groups
}

// latest returns the most recently registered node of a group.
func latest(g []*regNode) *regNode {
	return slices.MaxFunc(g, func(a, b *regNode) int { return cmp.Compare(a.seq, b.seq) })
}

func (s *registryState) getService(name string) ([]*registry.Service, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errRegistryClosed
	}
	nodes := s.services[name]
	if len(nodes) == 0 {
		return nil, fmt.Errorf("%w: %q", registry.ErrNotFound, name)
	}
	var out []*registry.Service
	for _, g := range versionsLocked(nodes) {
		svc := latest(g).svc.CopyWithoutNodes()
		svc.Nodes = make([]*registry.Node, len(g))
		for i, n := range g {
			svc.Nodes[i] = n.svc.Nodes[0].Copy()
		}
		out = append(out, svc)
	}
	return out, nil
}

func (s *registryState) listServices() ([]*registry.Service, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errRegistryClosed
	}
	names := make([]string, 0, len(s.services))
	for name := range s.services {
		names = append(names, name)
	}
	slices.Sort(names)
	out := []*registry.Service{}
	for _, name := range names {
		for _, g := range versionsLocked(s.services[name]) {
			out = append(out, latest(g).svc.CopyWithoutNodes())
		}
	}
	return out, nil
}

// hostRegistry is one host's view of the network's registry.
type hostRegistry struct {
	h *Host
	s *registryState
}

// check fails a call whose ctx is done or whose host is down.
func (r *hostRegistry) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !r.s.net.allRun() && !r.h.Up() {
		return r.h.errDown(registry.ErrUnavailable)
	}
	return nil
}

// Register adds or refreshes the nodes of s (see package registry), which
// registry.Validate must accept. It does not block: the in-memory round
// trip is a mutex.
func (r *hostRegistry) Register(ctx context.Context, s *registry.Service, opts ...registry.RegisterOption) error {
	if err := r.check(ctx); err != nil {
		return err
	}
	return r.s.register(s, opts)
}

// Deregister removes the nodes of s that are registered, by (s.Name, node
// ID); other fields are ignored. It does not block.
func (r *hostRegistry) Deregister(ctx context.Context, s *registry.Service) error {
	if err := r.check(ctx); err != nil {
		return err
	}
	if s == nil || s.Name == "" {
		return fmt.Errorf("%w: deregister needs a service name", registry.ErrInvalid)
	}
	return r.s.deregister(s)
}

// GetService returns copies of the live nodes of the named service, one
// Service per version sorted by version, nodes sorted by ID. A version's
// metadata and endpoints are those of its most recently registered node
// (a renewal of a node, its heartbeat, is not a registration).
// It does not block.
func (r *hostRegistry) GetService(ctx context.Context, name string) ([]*registry.Service, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	return r.s.getService(name)
}

// ListServices returns one Service per (name, version) that has a live
// node, without nodes, sorted by name then version. It does not block.
func (r *hostRegistry) ListServices(ctx context.Context) ([]*registry.Service, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	return r.s.listServices()
}

// Watch returns a watcher of every event from now on (see regWatcher). It
// does not block.
func (r *hostRegistry) Watch(ctx context.Context, opts ...registry.WatchOption) (registry.Watcher, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	var o registry.WatchOptions
	for _, opt := range opts {
		opt(&o)
	}
	return r.s.watch(r.h, o.Service)
}

// expiryEntry says that node e expires at or after at, unless the entry
// is stale (regNode.queued).
type expiryEntry struct {
	at time.Time
	e  *regNode
}

// expiryQueue holds expiry entries by time, those of one instant in the
// order they were queued. The nodes of a world register at one instant,
// and their heartbeats share instants: a tickq.Queue takes and queues an
// entry in O(1), where a heap of 1,000 entries costs ~20 compares.
type expiryQueue struct {
	q   tickq.Queue[expiryEntry]
	seq uint64 // entries queued: their order within an instant
}

func (q *expiryQueue) push(x expiryEntry) {
	q.seq++
	q.q.Push(x.at.UnixNano(), q.seq, x)
}

// first returns the earliest entry; ok is false when there is none.
func (q *expiryQueue) first() (x expiryEntry, ok bool) {
	it, ok := q.q.First()
	return it.V, ok
}

// pop removes the earliest entry.
func (q *expiryQueue) pop() { q.q.Pop() }
