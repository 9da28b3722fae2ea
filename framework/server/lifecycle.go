package server

import (
	"context"
	stderrors "errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/internal/lazypool"
)

// running is the state of a started server.
type running struct {
	// What every call reads and writes comes first, in one cache line
	// (TestServerHotFields): a running server is 256 bytes, a size class
	// whose objects start on a line.
	stopping atomic.Bool // set by Stop before it closes the listener
	failed   bool        // Serve returned without Stop; guarded by server.mu

	// free and slots keep the call state of finished calls for reuse; the
	// server's own, never shared. A call takes one from free (under
	// server.mu, which the call takes anyway), or else from slots (per P,
	// emptied by the GC); a finished call goes back to free while it holds
	// fewer than maxFreeSlots, else to slots. A server called now and then
	// (one of many in a simulated world) finds a slot in free, which the GC
	// leaves alone; a busy one with more than maxFreeSlots calls at once
	// cycles the rest through the pool. slots is a lazy pool: it is not
	// asked (its per-processor storage is not fetched, nor made at a first
	// Get) while it is empty, so a server that never has more than
	// maxFreeSlots calls at once never touches it.
	free []*callSlot

	// base has ctx's values but is never cancelled: it bounds socket
	// operations (Stop's drain closes the sockets of the calls it
	// abandons) and roots each call's ctx, so that a call costs its
	// parent no bookkeeping. hbase is base with empty metadata, the root
	// of every handler's ctx: a request with metadata adds its own on top.
	base  context.Context
	hbase context.Context

	slots lazypool.Pool

	addr string
	svc  *registry.Service // the registered entry; never modified
	l    transport.Listener
	subs []broker.Subscription

	// ctx bounds everything the server does while running; cancelled at
	// the end of Stop.
	ctx    context.Context
	cancel context.CancelFunc
	// hbCtx bounds the heartbeat; hbCancel stops it.
	hbCtx    context.Context
	hbCancel context.CancelFunc

	beats  *beats        // the heartbeat (startHeartbeat)
	hbDone chan struct{} // closed once listenerFailed deregistered the node
	served chan struct{} // closed when Serve returned: every stream was served
}

// maxFreeSlots bounds running.free.
const maxFreeSlots = 8

// Start implements Server.
func (s *server) Start(ctx context.Context) error {
	if err := s.lock(ctx); err != nil {
		return s.errorf("start: %w", err)
	}
	defer s.unlock()
	s.mu.Lock()
	switch s.state {
	case stateRunning:
		s.mu.Unlock()
		return s.errorf("start: %w", ErrStarted)
	case stateStopped:
		s.mu.Unlock()
		return s.errorf("start: %w", ErrStopped)
	}
	// From here Handle and Subscribe fail; a failed Start goes back to idle.
	s.state = stateRunning
	subs := slices.Clone(s.subs)
	s.mu.Unlock()

	r, err := s.start(ctx, subs)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.state = stateIdle
		return err
	}
	s.run = r
	s.startHeartbeat(r)
	go s.serveLoop(r)
	return nil
}

// start listens, registers and subscribes; on failure it undoes what it did.
func (s *server) start(ctx context.Context, subs []*subscriber) (*running, error) {
	l, err := s.tr.Listen(s.opts.address)
	if err != nil {
		return nil, s.errorf("listen on %q: %w", s.opts.address, err)
	}
	svc := s.service(l.Addr())
	if err := s.reg.Register(ctx, svc, registry.WithTTL(s.opts.ttl)); err != nil {
		_ = l.Close()
		return nil, s.errorf("register node %q: %w", svc.Nodes[0].ID, err)
	}
	// The running server's ctx keeps Start's values but not its end.
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &running{
		addr:   l.Addr(),
		svc:    svc,
		l:      l,
		ctx:    rctx,
		cancel: cancel,
		hbDone: make(chan struct{}),
		served: make(chan struct{}),
	}
	r.base = context.WithoutCancel(rctx)
	r.hbase = metadata.NewContext(r.base, nil)
	// The heartbeat's ctx ends by hbCancel alone, which Stop calls first:
	// over base, which never ends, it is no child for rctx to keep track of.
	r.hbCtx, r.hbCancel = context.WithCancel(r.base)
	for _, sub := range subs {
		bs, err := s.subscribe(rctx, sub)
		if err != nil {
			for _, done := range r.subs {
				_ = done.Close()
			}
			if derr := s.reg.Deregister(ctx, svc); derr != nil {
				s.opts.log.Warn("server: deregister after failed start", "service", s.name, "err", derr)
			}
			_ = l.Close()
			r.hbCancel()
			cancel()
			return nil, err
		}
		r.subs = append(r.subs, bs)
	}
	s.opts.log.Info("server: started", "service", s.name, "addr", r.addr, "node", svc.Nodes[0].ID)
	return r, nil
}

// Stop implements Server.
func (s *server) Stop(ctx context.Context) error {
	if err := s.lock(ctx); err != nil {
		return s.errorf("stop: %w", err)
	}
	defer s.unlock()
	s.mu.Lock()
	r := s.run
	if s.state != stateRunning || r == nil {
		s.mu.Unlock()
		return nil
	}
	s.state = stateStopped
	s.mu.Unlock()

	var errs []error
	plan := planStop(ctx)
	// The heartbeat stops first so that it cannot register the node again.
	// A listener that failed before stopping was set has its heartbeat
	// ended by serveLoop (listenerFailed, whose deregistration hbCancel
	// cuts short); otherwise it is ended here. r.failed is set under s.mu
	// by serveLoop, which reads stopping in the same critical section.
	r.stopping.Store(true) // from here an accept failure is expected
	r.hbCancel()
	s.mu.Lock()
	failed := r.failed
	s.mu.Unlock()
	if failed {
		<-r.hbDone
	} else {
		s.stopHeartbeat(r)
	}
	// (1) Deregister, within its share of the budget: clients stop
	// picking this node.
	dctx, dcancel := plan.deregister()
	if err := s.reg.Deregister(dctx, r.svc); err != nil {
		errs = append(errs, fmt.Errorf("deregister node %q: %w", r.svc.Nodes[0].ID, err))
	}
	dcancel()
	// (2) Stop accepting; the address is free once Close returns. A stream
	// handed over from now on finds stopping set and is refused.
	_ = r.l.Close()
	// (3) Drain in-flight requests until the abandon grace before the
	// deadline; then Serve returns, once every stream it handed over was
	// served.
	n := s.drain(plan)
	<-r.served
	if n > 0 {
		noun := "requests"
		if n == 1 {
			noun = "request"
		}
		errs = append(errs, fmt.Errorf("%w: %d %s still in flight when the stop ctx ended (%v); cancelled",
			ErrAbandoned, n, noun, context.Cause(ctx)))
	}
	// (4) Subscriptions; Close waits for a running subscriber.
	for _, sub := range r.subs {
		if err := sub.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close subscription to %q: %w", sub.Topic(), err))
		}
	}
	r.cancel()
	s.opts.log.Info("server: stopped", "service", s.name, "addr", r.addr)
	if err := stderrors.Join(errs...); err != nil {
		return s.errorf("stop: %w", err)
	}
	return nil
}

// drain waits until no call is in flight or the plan's drain ends; then
// it abandons the remaining calls: it cancels their handlers' ctx with
// cause ErrCallAbandoned (a handler that returns replies with an error saying
// the server stopped), waits for them until the plan's deadline, closes
// the sockets of the calls still running, waits for them to finish and
// returns how many requests were abandoned (refusals are not counted).
func (s *server) drain(plan stopPlan) int {
	s.mu.Lock()
	if s.calls == nil {
		s.mu.Unlock()
		return 0
	}
	done := make(chan struct{})
	s.drained = done
	s.mu.Unlock()
	ctx, cancel := plan.drain()
	defer cancel()
	select {
	case <-done:
		return 0
	case <-ctx.Done():
	}
	s.mu.Lock()
	abandoned := 0
	var calls []*call
	var socks []transport.Socket
	for c := s.calls; c != nil; c = c.next {
		if !c.refusal {
			abandoned++
		}
		calls = append(calls, c)
		socks = append(socks, c.sock)
	}
	s.mu.Unlock()
	for _, c := range calls {
		c.abandon()
	}
	if plan.grace > 0 {
		select {
		case <-done:
		case <-plan.ctx.Done():
		}
	}
	// The streams of the handlers still running (those that ignore their
	// ctx) are ended towards their callers, who see them end without a
	// reply. CloseSend, not Close: the call's own goroutine still uses its
	// socket (and the request message, whose lease a Close would end); it
	// closes it when the handler returns.
	s.mu.Lock()
	socks = socks[:0]
	for c := s.calls; c != nil; c = c.next {
		socks = append(socks, c.sock)
	}
	s.mu.Unlock()
	for _, sock := range socks {
		_ = sock.CloseSend()
	}
	<-done
	if abandoned > 0 {
		s.opts.log.Warn("server: stop abandoned requests", "service", s.name, "abandoned", abandoned)
	}
	return abandoned
}
