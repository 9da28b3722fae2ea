package sim

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	fwerrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/memory"
	"github.com/microsim/microsim/sim/scenario"
)

// instance is one running instance of a service: a host of the memory
// network and the real framework server on it, whose handlers sleep their
// latency and fail at their error rate.
type instance struct {
	// What every call reads comes first: in a world of many instances an
	// instance is out of the CPU's cache by its next call.
	seed uint64
	w    *world
	// eps are the synthetic endpoints' behaviours; the instances of a
	// service without overrides share one slice (world.sharedEps).
	eps []endpointBehaviour
	// effects holds the active handler faults (slow, errors); replaced
	// whole on every change, so handlers read it without a lock.
	effects atomic.Pointer[effects]
	// ep0 serves the first synthetic endpoint (epHandler), in the line
	// of what a call reads of the instance.
	ep0 epHandler

	id      int // index in world.instances and metrics
	name    string
	service string
	index   int
	zone    string
	meta    map[string]string
	host    *memory.Host
	subs    []subscriberBehaviour
	svc     *scenario.Service

	// caller is the instance's own client for the calls its endpoints
	// make (nil when they make none); propagate says whether those calls
	// carry the incoming request's deadline.
	caller    *simClient
	propagate bool
	userSeq   atomic.Uint64 // Go services: calls made and faulted requests
	// goLatency is a Go service's latency per endpoint: virtual time
	// spent before the handler runs.
	goLatency map[string]endpointBehaviour

	mu   sync.Mutex // guards srv, addr and state; never held across a wait
	srv  server.Server
	addr string
	down bool
}

// endpointBehaviour is a handler's behaviour on one instance.
type endpointBehaviour struct {
	name    string
	latency sampler
	factor  float64
	errRate float64
	errCode fwerrors.Code
	steps   []stepPlan // the calls the handler makes after its own work
	stream  bool       // a stream endpoint: behaves so for each message
}

// effects are the handler faults active on an instance.
type effects struct {
	list []*effect
}

type effect struct {
	factor   float64
	add      sampler
	hasAdd   bool
	errRate  float64
	errCode  fwerrors.Code
	endpoint string
	touched  *atomic.Int64
}

func (in *instance) addEffect(e *effect) {
	in.mu.Lock()
	defer in.mu.Unlock()
	old := in.effects.Load()
	n := &effects{}
	if old != nil {
		n.list = append(n.list, old.list...)
	}
	n.list = append(n.list, e)
	in.effects.Store(n)
}

func (in *instance) removeEffect(e *effect) {
	in.mu.Lock()
	defer in.mu.Unlock()
	old := in.effects.Load()
	if old == nil {
		return
	}
	n := &effects{}
	for _, x := range old.list {
		if x != e {
			n.list = append(n.list, x)
		}
	}
	in.effects.Store(n)
}

// epHandler serves endpoint b of instance in: the server calls it as a
// server.UnaryServer (server.UnaryWith). The first endpoint's is part of
// the instance (ep0), so that a call reads no object of the handler's
// own, as it would a closure's.
type epHandler struct {
	in *instance
	b  *endpointBehaviour
}

// handler returns the handler of endpoint k.
func (in *instance) handler(k int) *epHandler {
	if k == 0 {
		if in.ep0.in == nil { // set once: a restarted server's old handlers may still read it
			in.ep0 = epHandler{in: in, b: &in.eps[0]}
		}
		return &in.ep0
	}
	return &epHandler{in: in, b: &in.eps[k]}
}

// ServeUnary implements server.UnaryServer.
func (h *epHandler) ServeUnary(ctx context.Context, req *[]byte, rsp *[]byte) error {
	var seq uint64
	if len(*req) >= 8 {
		seq = binary.LittleEndian.Uint64(*req)
	}
	depth := 0
	if len(*req) >= 9 {
		depth = int((*req)[8]) // how many hops below a top-level call
	}
	return h.in.serve(ctx, h.b, seq, depth)
}

// serve is a synthetic handler's work for the call (or event) with
// sequence number seq: its latency, its errors, the handler faults of the
// timeline, then its calls.
func (in *instance) serve(ctx context.Context, b *endpointBehaviour, seq uint64, depth int) error {
	// The draws depend on the call and on the instant it arrived: a
	// retry of the call (later, on this instance or another) is a new
	// trial, not the same coin tossed again; and the calls this one
	// makes downstream are new calls for each of its attempts.
	seq = mix64(seq ^ uint64(time.Now().UnixNano()))
	draws := newCallDraws(in.seed, seq)
	d := b.latency.draw(draws.next(), draws.next())
	if b.factor != 1 {
		d = time.Duration(float64(d) * b.factor)
	}
	var err error
	if b.errRate > 0 && draws.next() < b.errRate {
		err = fwerrors.New(in.name, b.errCode, "%s failed (error_rate %g)", b.name, b.errRate)
	}
	if fx := in.effects.Load(); fx != nil {
		for _, e := range fx.list {
			if e.endpoint != "" && e.endpoint != b.name {
				continue
			}
			touched := false
			if e.factor != 1 {
				d = time.Duration(float64(d) * e.factor)
				touched = true
			}
			if e.hasAdd {
				d += e.add.draw(draws.next(), draws.next())
				touched = true
			}
			if e.errRate > 0 && draws.next() < e.errRate && err == nil {
				err = fwerrors.New(in.name, e.errCode, "%s failed (injected fault)", b.name)
				touched = true
			}
			if touched {
				e.touched.Add(1)
			}
		}
	}
	// Break ties: a handler whose latency is a round figure would
	// finish at the very instant a round timer of the caller (an
	// attempt timeout, a hedge delay) fires, and which of the two
	// goroutines runs first is up to the scheduler. A sub-microsecond
	// offset drawn from the call's sequence number makes the timer win
	// in every run of a seed.
	d += tieBreak(seq)
	if d > 0 {
		if err := in.w.sleep(ctx, d); err != nil {
			return err
		}
	}
	if err == nil && len(b.steps) > 0 {
		err = in.runSteps(ctx, b.steps, seq, depth)
	}
	return err
}

// start builds and starts a server on the instance's host (on its
// previous address after a restart).
func (in *instance) start(ctx context.Context) error {
	in.mu.Lock()
	addr := in.addr
	in.mu.Unlock()
	var extra []server.Option
	if addr != "" {
		extra = append(extra, server.WithAddress(addr))
	}
	srv, err := in.newServer(ctx, in.host.Transport(), extra...)
	if err != nil {
		return err
	}
	in.mu.Lock()
	in.srv, in.addr, in.down = srv, srv.Addr(), false
	in.mu.Unlock()
	return nil
}

// newServer builds the instance's framework server on tr, registers its
// endpoints, subscribers and Go implementation, and starts it: the same
// server whatever the backend (extra adds the backend's options, such as
// its address).
func (in *instance) newServer(ctx context.Context, tr transport.Transport, extra ...server.Option) (server.Server, error) {
	reg := in.w.sc.Topology.Registry
	ttl := reg.TTL.Std()
	if ttl == 0 {
		ttl = scenario.DefaultTTL
	}
	hb := reg.Heartbeat.Std()
	if hb == 0 {
		hb = ttl / 3
	}
	opts := []server.Option{
		server.WithID(in.name),
		server.WithMetadata(in.meta),
		server.WithRegisterTTL(ttl),
		server.WithRegisterInterval(hb),
		server.WithHeartbeater(in.w.beats),
		server.WithCodecs(in.w.codecs),
		server.WithMaxConcurrent(in.w.capacity[in.service]),
	}
	opts = append(opts, in.w.obs.serverOptions()...)
	if in.svc.IsGo() {
		opts = append(opts, server.WithHandlerWrapper(in.effectWrapper))
	}
	if in.svc.IsGo() || len(in.subs) > 0 {
		opts = append(opts, server.WithBroker(in.subscriberBroker()))
	}
	srv, err := server.New(in.service, tr, in.w.registry(in.name, in.host), append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", in.name, err)
	}
	for k := range in.eps {
		var fn any
		switch {
		case in.eps[k].stream:
			fn = in.streamHandler(k)
		case len(in.eps[k].steps) == 0:
			// A handler that only waits and answers keeps nothing, nor
			// derives a ctx: its calls reuse their arguments, wherever
			// in the world the last call to end left them.
			fn = server.UnaryWith(in.handler(k), &in.w.args)
		default:
			fn = server.UnaryWith[[]byte, []byte](in.handler(k), nil)
		}
		if err := srv.HandleFunc(in.eps[k].name, fn); err != nil {
			return nil, fmt.Errorf("instance %s: %w", in.name, err)
		}
	}
	if err := in.subscribe(srv); err != nil {
		return nil, fmt.Errorf("instance %s: %w", in.name, err)
	}
	if in.svc.IsGo() {
		if err := in.setupGo(srv); err != nil {
			return nil, err
		}
	}
	if err := srv.Start(ctx); err != nil {
		return nil, fmt.Errorf("instance %s: %w", in.name, err)
	}
	return srv, nil
}

// crash crashes the host: its registry entry stays until its TTL passes.
func (in *instance) crash() {
	in.mu.Lock()
	in.down = true
	in.mu.Unlock()
	in.host.Crash()
}

// stop stops the server gracefully, waiting for in-flight requests for
// at most drain.
func (in *instance) stop(drain time.Duration) {
	in.mu.Lock()
	srv := in.srv
	in.down = true
	in.mu.Unlock()
	if srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	_ = srv.Stop(ctx)
}

// restart brings a crashed or stopped instance back on its address.
func (in *instance) restart(ctx context.Context) error {
	in.mu.Lock()
	old := in.srv
	in.srv = nil
	in.mu.Unlock()
	if old != nil {
		// The old server of a crashed host is stopped before the host comes
		// back, so that its deregistration cannot remove the new node.
		_ = old.Stop(doneContext())
	}
	in.host.Restart()
	return in.start(ctx)
}

// close stops the instance at the end of the run, its server drained
// until ctx ends. A host still paused then is resumed first: a frozen
// server cannot stop (its listener and registry calls wait for the
// resume).
func (in *instance) close(ctx context.Context) {
	in.host.Resume()
	in.mu.Lock()
	srv, down := in.srv, in.down
	in.mu.Unlock()
	if srv == nil {
		return
	}
	if down {
		ctx = doneContext()
	}
	_ = srv.Stop(ctx)
}

// quiet reports whether the instance's server has no request in flight,
// no subscription and none of a user's code (a Go service, which may
// wait on anything): its Stop then waits for no virtual time.
func (in *instance) quiet() bool {
	in.mu.Lock()
	srv := in.srv
	in.mu.Unlock()
	if srv == nil {
		return true
	}
	sr, ok := srv.(server.StatsReporter)
	return ok && len(in.subs) == 0 && (in.svc == nil || !in.svc.IsGo()) && sr.Stats().InFlight == 0
}

// doneContext is a context that has already ended: a Stop given it takes
// the server down without waiting for anything.
func doneContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// metadata builds an instance's node metadata.
func metadata(labels map[string]string, extra map[string]string, zone string) map[string]string {
	md := maps.Clone(labels)
	if md == nil {
		md = map[string]string{}
	}
	maps.Copy(md, extra)
	if zone != "" {
		md[scenario.ZoneKey] = zone
	}
	return md
}

// tieBreak is a handler's extra latency, 1-999ns, a function of the
// call's sequence number only (it draws from no stream).
func tieBreak(seq uint64) time.Duration { return time.Duration(1 + mix64(seq^0x71e)%999) }
