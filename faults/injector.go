package faults

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Injector owns the faults of one world: the nodes they can target, the
// faults themselves, their timeline, and the decorators that apply them at
// the seams (WrapTransport, ServerWrapper, ClientWrapper, WrapRegistry,
// WrapBroker). It is safe for concurrent use. Create it, its decorators
// and the world they decorate inside the synctest bubble that uses them.
//
// Randomness: every fault draws from its own streams, derived from the
// injector's seed and the fault's name (see Fault), so a seed reproduces a
// run and adding a fault never changes the draws of another.
type Injector struct {
	seed uint64
	hook func(Touch)

	// ctx bounds every goroutine the injector's decorators start (delivery
	// lines, readers, broker pumps); Close cancels it and waits on wg.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// active is what the seams read on every message or call: the faults
	// in effect now, grouped by kind. It is replaced, never modified.
	active atomic.Pointer[activeSet]
	// links counts the link faults added, active or not.
	links atomic.Int32

	mu       sync.Mutex
	closed   bool
	nodes    map[string]NodeInfo
	addrs    map[string]string // transport address -> node
	faults   map[string]*Fault
	order    []*Fault
	timeline []Event
	// changed is closed, and replaced, whenever a fault starts or stops;
	// waits that depend on the active set select on it.
	changed chan struct{}

	// holds are the holds of renewals WrapRegistry's registries passed on
	// (registry.Standing), by the order they were made: a registry fault
	// that starts for their node breaks them (registry_stand.go).
	holdMu   sync.Mutex
	holds    map[*faultHold]uint64
	holdsSeq uint64
}

// activeSet is the faults in effect, by kind.
type activeSet struct {
	links   []*linkRun
	rpcs    []*rpcRun
	slows   []*slowRun
	regs    []*regRun
	brokers []*brokerRun
}

// Option configures an Injector.
type Option func(*Injector)

// OnTouch calls fn, synchronously and without any lock of the injector
// held, for every message, call or event a fault acts on. fn must not
// block; it is for traces and tests.
func OnTouch(fn func(Touch)) Option { return func(inj *Injector) { inj.hook = fn } }

// New returns an injector whose faults draw their randomness from seed. It
// starts nothing and does not block.
func New(seed uint64, opts ...Option) *Injector {
	ctx, cancel := context.WithCancel(context.Background())
	inj := &Injector{
		seed:    seed,
		ctx:     ctx,
		cancel:  cancel,
		nodes:   make(map[string]NodeInfo),
		addrs:   make(map[string]string),
		faults:  make(map[string]*Fault),
		changed: make(chan struct{}),
	}
	for _, o := range opts {
		if o != nil {
			o(inj)
		}
	}
	inj.active.Store(&activeSet{})
	return inj
}

// Seed is the injector's seed.
func (inj *Injector) Seed() uint64 { return inj.seed }

// AddNode tells the injector about a node, so that targets can select it.
// Add nodes before the faults that target them. It does not block.
func (inj *Injector) AddNode(name string, info NodeInfo) error {
	if name == "" {
		return errors.New("faults: AddNode: empty node name")
	}
	info.Labels = maps.Clone(info.Labels)
	info.Addrs = slices.Clone(info.Addrs)
	inj.mu.Lock()
	defer inj.mu.Unlock()
	if _, ok := inj.nodes[name]; ok {
		return fmt.Errorf("%w: node %q", ErrExists, name)
	}
	inj.nodes[name] = info
	for _, a := range info.Addrs {
		inj.addrs[a] = name
	}
	return nil
}

// AddAddr maps a transport address to a node for the default resolver (for
// example the "127.0.0.1:port" a TCP server picked). It does not block.
func (inj *Injector) AddAddr(node, addr string) {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	inj.addrs[addr] = node
}

// Resolve names the node behind a transport address: the node it was
// mapped to by NodeInfo.Addrs or AddAddr, else the address's host part
// (memory addresses are "host:port", the host being the node). It is the
// resolver WrapTransport uses when given none. It does not block.
func (inj *Injector) Resolve(addr string) string {
	inj.mu.Lock()
	node, ok := inj.addrs[addr]
	inj.mu.Unlock()
	if ok {
		return node
	}
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[:i]
	}
	return addr
}

// Add builds a fault from spec and adds it, stopped. It fails with a
// *SpecError (wrapping ErrInvalid) naming the field when the spec is
// invalid, and with ErrExists when the name is taken. It does not block.
func (inj *Injector) Add(name string, spec Spec) (*Fault, error) {
	if spec == nil {
		return nil, &SpecError{Kind: "fault", Fault: name, Msg: "nil spec"}
	}
	c := &check{kind: spec.kind(), name: name}
	if name == "" {
		c.failf("name", "must not be empty")
		return nil, c.result()
	}
	inj.mu.Lock()
	defer inj.mu.Unlock()
	if inj.closed {
		return nil, ErrClosed
	}
	if _, ok := inj.faults[name]; ok {
		return nil, fmt.Errorf("%w: fault %q", ErrExists, name)
	}
	spec.validate(c, inj.nodes)
	if err := c.result(); err != nil {
		return nil, err
	}
	f := newFault(inj, name, spec)
	inj.faults[name] = f
	inj.order = append(inj.order, f)
	if _, ok := spec.(LinkFault); ok {
		inj.links.Add(1)
	}
	return f, nil
}

// Inject adds a fault and starts it: Add, then Fault.Start. It blocks as
// Start does.
func (inj *Injector) Inject(ctx context.Context, name string, spec Spec) (*Fault, error) {
	f, err := inj.Add(name, spec)
	if err != nil {
		return nil, err
	}
	return f, f.Start(ctx)
}

// Fault returns the fault called name, or nil. It does not block.
func (inj *Injector) Fault(name string) *Fault {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	return inj.faults[name]
}

// Faults returns every fault in the order they were added. It does not block.
func (inj *Injector) Faults() []*Fault {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	return slices.Clone(inj.order)
}

// Timeline returns every start and stop so far, in order (virtual time in
// a synctest bubble). It does not block.
func (inj *Injector) Timeline() []Event {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	out := make([]Event, len(inj.timeline))
	for i, e := range inj.timeline {
		e.Targets = slices.Clone(e.Targets)
		out[i] = e
	}
	return out
}

// Close deactivates every fault (held messages are dropped, pending
// deliveries abandoned), stops the goroutines of the injector's decorators
// and waits for them. It does not restart crashed or stopped nodes nor
// resume paused ones: stop those faults first. Later Adds fail with
// ErrClosed; decorators pass traffic through untouched. Idempotent.
func (inj *Injector) Close() error {
	inj.mu.Lock()
	if inj.closed {
		inj.mu.Unlock()
		inj.wg.Wait()
		return nil
	}
	inj.closed = true
	faults := slices.Clone(inj.order)
	inj.mu.Unlock()
	inj.cancel()
	for _, f := range faults {
		f.deactivate()
	}
	inj.rebuild()
	inj.wg.Wait()
	return nil
}

// isClosed reports whether Close was called.
func (inj *Injector) isClosed() bool {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	return inj.closed
}

// rebuild recomputes the active set from the faults' state, wakes the
// waits that depend on it, and breaks the holds of renewals of the nodes
// a registry fault is in effect for (registry_stand.go).
func (inj *Injector) rebuild() {
	inj.mu.Lock()
	a := &activeSet{}
	if !inj.closed {
		for _, f := range inj.order {
			if f.Active() {
				f.b.register(a)
			}
		}
	}
	inj.active.Store(a)
	close(inj.changed)
	inj.changed = make(chan struct{})
	inj.mu.Unlock()
	if len(a.regs) > 0 {
		inj.breakHolds(a)
	}
}

// changes returns a channel closed at the next start or stop of a fault.
func (inj *Injector) changes() <-chan struct{} {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	return inj.changed
}

// record appends an event to the timeline.
func (inj *Injector) record(e Event) {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	inj.timeline = append(inj.timeline, e)
}

// nodeInfos returns a snapshot of the known nodes.
func (inj *Injector) nodeInfos() map[string]NodeInfo {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	return maps.Clone(inj.nodes)
}

// touch reports t to the hook, if any.
func (inj *Injector) touch(t Touch) {
	if inj.hook != nil {
		inj.hook(t)
	}
}

// goTracked runs fn on a goroutine that Close waits for. It reports false,
// without running fn, once the injector is closed.
func (inj *Injector) goTracked(fn func()) bool {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	if inj.closed {
		return false
	}
	inj.wg.Go(fn)
	return true
}

// sleepCtx waits d, or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
