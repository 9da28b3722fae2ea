package faults

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/transport"
)

// Spec describes a fault: a LinkFault, RPCFault, NodeFault, RegistryFault
// or BrokerFault. Injector.Add validates it and builds the Fault.
type Spec interface {
	kind() string
	validate(c *check, nodes map[string]NodeInfo)
	build(f *Fault) behaviour
}

// behaviour is the part of a fault that depends on its kind.
type behaviour interface {
	// start puts the fault in effect and returns the nodes it resolved to.
	// A fault that could act on some of its nodes only returns those and
	// an error; it is then in effect for those.
	start(ctx context.Context, nodes map[string]NodeInfo) (targets []string, err error)
	// stop ends it, undoing what start did to nodes.
	stop(ctx context.Context) error
	// register adds the fault, which is in effect, to the active set.
	register(a *activeSet)
	// release lets go of whatever the fault holds (held messages, queued
	// calls) without acting on nodes; Injector.Close calls it.
	release()
}

// Fault is one fault of an Injector, stopped or in effect. Start and Stop
// switch it at run time, any number of times.
//
// Its randomness comes from streams of its own: a main stream
// PCG(seed, FNV-1a(name)), which resolves its targets, and one stream per
// link, node or topic it acts on, PCG(seed, FNV-1a(name, 0, key)), which
// draws its per-message or per-call decisions. Streams live as long as the
// fault, so restarting it continues them. Two runs with the same seed and
// the same sequence of messages on each link draw the same decisions; a
// fault added or removed changes no other fault's draws.
type Fault struct {
	inj  *Injector
	name string
	kind string
	spec Spec
	b    behaviour

	// life serialises Start and Stop without holding a mutex across the
	// node actions they may wait for.
	life chan struct{}

	mu      sync.Mutex // guards what follows and the streams
	rng     *rand.Rand
	subs    map[string]*rand.Rand
	active  bool
	started time.Time
	stopped time.Time
	starts  int
	targets []string
	matched uint64
	touched uint64
	counts  map[string]uint64
}

func newFault(inj *Injector, name string, spec Spec) *Fault {
	f := &Fault{
		inj:    inj,
		name:   name,
		kind:   spec.kind(),
		spec:   spec,
		life:   make(chan struct{}, 1),
		rng:    rand.New(rand.NewPCG(inj.seed, streamKey(name))),
		subs:   make(map[string]*rand.Rand),
		counts: make(map[string]uint64),
	}
	f.b = spec.build(f)
	return f
}

// streamKey hashes a fault name and optional sub-keys into a PCG stream.
func streamKey(name string, sub ...string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	for _, s := range sub {
		_, _ = h.Write([]byte{0})
		_, _ = h.Write([]byte(s))
	}
	return h.Sum64()
}

// streamLocked returns the fault's stream for key. f.mu is held.
func (f *Fault) streamLocked(key string) *rand.Rand {
	r, ok := f.subs[key]
	if !ok {
		r = rand.New(rand.NewPCG(f.inj.seed, streamKey(f.name, key)))
		f.subs[key] = r
	}
	return r
}

// Name is the fault's name.
func (f *Fault) Name() string { return f.name }

// Kind is "link", "rpc", "node", "registry" or "broker".
func (f *Fault) Kind() string { return f.kind }

// Spec is the spec the fault was built from.
func (f *Fault) Spec() Spec { return f.spec }

// Active reports whether the fault is in effect.
func (f *Fault) Active() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.active
}

func (f *Fault) lock(ctx context.Context) error {
	select {
	case f.life <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("faults: %s %q: %w", f.kind, f.name, ctx.Err())
	}
}

func (f *Fault) unlock() { <-f.life }

// Start puts the fault in effect, resolving its targets with its main
// stream. Link, RPC, registry and broker faults start at once; a node
// fault blocks while it acts on its nodes (a graceful stop drains). Start
// of a fault in effect does nothing.
func (f *Fault) Start(ctx context.Context) error {
	if err := f.lock(ctx); err != nil {
		return err
	}
	defer f.unlock()
	if f.inj.isClosed() {
		return ErrClosed
	}
	if f.Active() {
		return nil
	}
	targets, err := f.b.start(ctx, f.inj.nodeInfos())
	if err != nil {
		err = fmt.Errorf("faults: start %s %q: %w", f.kind, f.name, err)
	}
	now := time.Now()
	on := err == nil || len(targets) > 0
	f.mu.Lock()
	if on {
		f.active, f.started, f.targets = true, now, targets
		f.starts++
	}
	f.mu.Unlock()
	typ := Started
	if !on {
		typ = Failed
	}
	f.inj.record(Event{At: now, Fault: f.name, Kind: f.kind, Type: typ, Targets: targets, Err: err})
	f.inj.rebuild()
	return err
}

// Stop ends the fault: held messages are released, and a node fault undoes
// what it did (a crashed or stopped node restarts, a paused one resumes),
// blocking meanwhile. Stop of a stopped fault does nothing.
func (f *Fault) Stop(ctx context.Context) error {
	if err := f.lock(ctx); err != nil {
		return err
	}
	defer f.unlock()
	if !f.Active() {
		return nil
	}
	f.mu.Lock()
	f.active = false
	f.mu.Unlock()
	f.inj.rebuild() // nothing new is touched from here
	err := f.b.stop(ctx)
	if err != nil {
		err = fmt.Errorf("faults: stop %s %q: %w", f.kind, f.name, err)
	}
	now := time.Now()
	f.mu.Lock()
	f.stopped = now
	targets := f.targets
	f.mu.Unlock()
	f.inj.record(Event{At: now, Fault: f.name, Kind: f.kind, Type: Stopped, Targets: targets, Err: err})
	return err
}

// deactivate takes the fault out of effect for Injector.Close.
func (f *Fault) deactivate() {
	f.mu.Lock()
	was := f.active
	f.active = false
	if was {
		f.stopped = time.Now()
	}
	f.mu.Unlock()
	f.b.release()
}

// seenLocked counts a message or call the fault matched. f.mu is held.
func (f *Fault) seenLocked() { f.matched++ }

// actedLocked counts an action on a message or call. f.mu is held.
func (f *Fault) actedLocked(action string) {
	f.touched++
	f.counts[action]++
}

// act counts an action and reports it to the injector's hook.
func (f *Fault) act(t Touch) {
	f.mu.Lock()
	f.actedLocked(t.Action)
	f.mu.Unlock()
	f.report(t)
}

// report fills t's fault fields and hands it to the hook.
func (f *Fault) report(t Touch) {
	if f.inj.hook == nil {
		return
	}
	t.Fault, t.Kind = f.name, f.kind
	if t.At.IsZero() {
		t.At = time.Now()
	}
	f.inj.touch(t)
}

// Stats returns what the fault did so far. It does not block.
func (f *Fault) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Stats{
		Name:    f.name,
		Kind:    f.kind,
		Active:  f.active,
		Started: f.started,
		Stopped: f.stopped,
		Starts:  f.starts,
		Targets: slices.Clone(f.targets),
		Matched: f.matched,
		Touched: f.touched,
		Counts:  maps.Clone(f.counts),
	}
}

// Stats is what a fault did: when it last started and stopped (virtual
// time in a synctest bubble), and how many messages, calls or events it
// matched while in effect and acted on.
type Stats struct {
	Name, Kind string
	Active     bool
	// Started and Stopped are the last start and stop; zero if none yet.
	Started, Stopped time.Time
	// Starts counts the starts.
	Starts int
	// Targets are the nodes the last start resolved to ("*": any node).
	Targets []string
	// Matched counts what the fault saw while in effect; Touched what it
	// acted on (dropped, delayed, held, failed, ...).
	Matched, Touched uint64
	// Counts splits Touched by action: "dropped", "delayed", "held",
	// "reset", "refused", "error", "aborted", "lost_reply", "stalled",
	// "overloaded", "queued", "slowed", "unavailable", "ghost",
	// "watch_delayed", "flapped", "duplicated", "reordered", "crashed", ...
	Counts map[string]uint64
}

// EventType says what happened to a fault.
type EventType int

// Event types.
const (
	Started EventType = iota + 1
	Stopped
	// Failed: Start failed and the fault did not take effect.
	Failed
)

func (t EventType) String() string {
	switch t {
	case Started:
		return "started"
	case Stopped:
		return "stopped"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("event(%d)", int(t))
}

// Event is one entry of Injector.Timeline.
type Event struct {
	At      time.Time
	Fault   string
	Kind    string
	Type    EventType
	Targets []string
	// Err is what went wrong, if anything (a node that could not be acted on).
	Err error
}

// Touch is one action of a fault, as OnTouch reports it.
type Touch struct {
	Fault, Kind string
	// Action is one of the Stats.Counts keys.
	Action string
	At     time.Time
	// Node is where the fault acted (rpc, node, registry, broker); From
	// and To are a link's sender and receiver.
	Node, From, To string
	// Service and Endpoint name the call (rpc); Topic the message (broker).
	Service, Endpoint, Topic string
	// Delay is the delay added, if any.
	Delay time.Duration
	// Message is the message a link fault acted on (nil for a dial). It
	// must not be modified, and is valid during the OnTouch call only: a
	// reply is lent by the transport (package transport's ownership rule),
	// so keep a Clone of what you need.
	Message *transport.Message
}
