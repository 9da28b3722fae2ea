package faults

import (
	"context"
	"fmt"
	"net/textproto"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/errors"
)

// Edge is where an RPC fault acts.
type Edge int

// Edges.
const (
	// ServerEdge: in the called node's handler chain (Injector.ServerWrapper).
	ServerEdge Edge = iota
	// ClientEdge: in the calling node's attempt chain (Injector.ClientWrapper).
	ClientEdge
)

func (e Edge) String() string {
	switch e {
	case ServerEdge:
		return "server"
	case ClientEdge:
		return "client"
	}
	return fmt.Sprintf("edge(%d)", int(e))
}

// RPCFault acts on calls, matched by service, endpoint and headers, at the
// server edge (in the handler chain of the Nodes it targets) or at the
// client edge (in the attempt chain of the calling Nodes).
//
// Of Error, Abort and LostReply at most one may be set; Stall combines
// with any of them (it comes first); Overload stands alone.
type RPCFault struct {
	Edge Edge
	// Nodes are where the fault sits: the serving nodes at the server
	// edge, the calling nodes at the client edge (zero: every node).
	Nodes Target
	// Service and Endpoint ("Name.Method") match calls; "" matches any.
	Service, Endpoint string
	// Header matches calls whose headers (metadata) carry every one of
	// these values; keys match case-insensitively.
	Header map[string]string
	// Rate is the share of matching calls the fault acts on, in [0, 1];
	// 0 means every call.
	Rate float64
	// FirstN limits the fault to the first N calls it would act on after
	// each start: with Error it fails the first N calls, then recovers.
	FirstN int

	// Error replies with this code without running the handler (at the
	// client edge: fails the attempt without sending it). Zero: none.
	Error errors.Code
	// Abort ends the call without a reply and without running the handler:
	// at the server edge the stream is closed (the client sees
	// errors.Interrupted; the accepting transport must come from
	// WrapTransport, else the client gets an Interrupted error reply); at
	// the client edge the attempt fails with Interrupted unsent.
	Abort bool
	// LostReply runs the handler but the reply never arrives: the client
	// waits until its (attempt) deadline. It catches retries of calls that
	// are not idempotent.
	LostReply bool
	// Stall delays the call this long before it goes on (at the server
	// edge before the handler runs, at the client edge before it is sent).
	Stall time.Duration
	// Overload caps the calls in progress at each node: Concurrency run,
	// up to Queue more wait in order, the rest are refused at once with
	// errors.Unavailable, not run.
	Overload *Overload
}

// Overload is a concurrency cap with a bounded queue.
type Overload struct {
	Concurrency int
	Queue       int
}

func (RPCFault) kind() string { return "rpc" }

func (r RPCFault) validate(c *check, nodes map[string]NodeInfo) {
	if r.Edge != ServerEdge && r.Edge != ClientEdge {
		c.failf("edge", "unknown edge %d", int(r.Edge))
	}
	r.Nodes.validate(c, "nodes", nodes)
	for k := range r.Header {
		if k == "" {
			c.failf("header", "empty key")
		}
	}
	c.prob("rate", r.Rate)
	if r.FirstN < 0 {
		c.failf("firstN", "must be >= 0, got %d", r.FirstN)
	}
	if r.Error < 0 {
		c.failf("error", "unknown code %d", int(r.Error))
	}
	c.nonNeg("stall", r.Stall)
	replies := 0
	for _, set := range []bool{r.Error != errors.Unknown, r.Abort, r.LostReply} {
		if set {
			replies++
		}
	}
	if replies > 1 {
		c.failf("", "error, abort and lostReply are exclusive; set one")
	}
	if o := r.Overload; o != nil {
		if o.Concurrency < 1 {
			c.failf("overload.concurrency", "must be >= 1, got %d", o.Concurrency)
		}
		if o.Queue < 0 {
			c.failf("overload.queue", "must be >= 0, got %d", o.Queue)
		}
		if replies > 0 || r.Stall > 0 || r.Rate != 0 || r.FirstN != 0 {
			c.failf("overload", "cannot be combined with error, abort, lostReply, stall, rate or firstN")
		}
	}
	if replies == 0 && r.Stall == 0 && r.Overload == nil {
		c.failf("", "no effect: set error, abort, lostReply, stall or overload")
	}
}

func (r RPCFault) build(f *Fault) behaviour {
	h := make(map[string]string, len(r.Header))
	for k, v := range r.Header {
		h[textproto.CanonicalMIMEHeaderKey(k)] = v
	}
	return &rpcFault{f: f, spec: r, header: h}
}

// rpcFault is an RPCFault's behaviour.
type rpcFault struct {
	f      *Fault
	spec   RPCFault
	header map[string]string // canonical keys
	run    *rpcRun           // guarded by f.mu
}

// rpcRun is one activation of an RPC fault.
type rpcRun struct {
	rf     *rpcFault
	nodes  nodeSet
	firsts int // calls acted on, for FirstN; guarded by f.mu

	mu        sync.Mutex
	bulkheads map[string]*bulkhead // Overload, by node
	done      chan struct{}        // closed when the run ends: queued calls go on
	once      sync.Once
}

func (r *rpcFault) start(_ context.Context, nodes map[string]NodeInfo) ([]string, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	run := &rpcRun{rf: r, done: make(chan struct{}), bulkheads: make(map[string]*bulkhead)}
	run.nodes = r.spec.Nodes.resolve(nodes, r.f.rng)
	r.run = run
	return run.nodes.names(), nil
}

func (r *rpcFault) stop(context.Context) error { r.release(); return nil }

func (r *rpcFault) release() {
	r.f.mu.Lock()
	run := r.run
	r.run = nil
	r.f.mu.Unlock()
	if run != nil {
		run.once.Do(func() { close(run.done) })
	}
}

func (r *rpcFault) register(a *activeSet) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	if r.run != nil {
		a.rpcs = append(a.rpcs, r.run)
	}
}

// rpcCall is one call as the RPC faults see it.
type rpcCall struct {
	edge              Edge
	node              string
	service, endpoint string
	header            func(key string) (string, bool)
}

// matches reports whether the run acts on the call.
func (run *rpcRun) matches(c *rpcCall) bool {
	s := &run.rf.spec
	if s.Edge != c.edge || !run.nodes.has(c.node) ||
		(s.Service != "" && s.Service != c.service) || (s.Endpoint != "" && s.Endpoint != c.endpoint) {
		return false
	}
	for k, v := range run.rf.header {
		if got, ok := c.header(k); !ok || got != v {
			return false
		}
	}
	return true
}

// decide draws whether the run acts on the call; it counts the call.
func (run *rpcRun) decide(c *rpcCall) bool {
	f, s := run.rf.f, &run.rf.spec
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seenLocked()
	if s.Overload != nil {
		return true // counted when it queues or refuses
	}
	if s.Rate > 0 && s.Rate < 1 && f.streamLocked("rpc:"+c.node).Float64() >= s.Rate {
		return false
	}
	if s.FirstN > 0 {
		if run.firsts >= s.FirstN {
			return false
		}
		run.firsts++
	}
	return true
}

// bulkhead returns the Overload state of node.
func (run *rpcRun) bulkhead(node string) *bulkhead {
	run.mu.Lock()
	defer run.mu.Unlock()
	b := run.bulkheads[node]
	if b == nil {
		o := run.rf.spec.Overload
		b = &bulkhead{max: o.Concurrency, queue: o.Queue, done: run.done}
		run.bulkheads[node] = b
	}
	return b
}

// bulkhead is a concurrency cap with a bounded FIFO queue.
type bulkhead struct {
	max, queue int
	done       <-chan struct{}

	mu      sync.Mutex
	running int
	waiting []chan struct{}
}

// acquire takes a slot, waiting in the queue if need be. It returns the
// release func, whether the call queued, and whether it was refused.
// A ctx that ends while queued returns its error.
func (b *bulkhead) acquire(ctx context.Context) (release func(), queued, refused bool, err error) {
	noop := func() {}
	b.mu.Lock()
	select {
	case <-b.done:
		b.mu.Unlock()
		return noop, false, false, nil
	default:
	}
	if b.running < b.max {
		b.running++
		b.mu.Unlock()
		return b.release, false, false, nil
	}
	if len(b.waiting) >= b.queue {
		b.mu.Unlock()
		return nil, false, true, nil
	}
	ch := make(chan struct{})
	b.waiting = append(b.waiting, ch)
	b.mu.Unlock()
	select {
	case <-ch:
		return b.release, true, false, nil
	case <-b.done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, w := range b.waiting {
		if w == ch {
			b.waiting = append(b.waiting[:i], b.waiting[i+1:]...)
			return noop, true, false, err
		}
	}
	// The slot was handed over meanwhile: it is ours to give back.
	if err != nil {
		b.releaseLocked()
		return nil, true, false, err
	}
	return b.release, true, false, nil
}

func (b *bulkhead) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.releaseLocked()
}

// releaseLocked hands the slot to the first waiter, or frees it.
func (b *bulkhead) releaseLocked() {
	if len(b.waiting) > 0 {
		ch := b.waiting[0]
		b.waiting = b.waiting[1:]
		close(ch)
		return
	}
	b.running--
}
