package faults

import (
	"context"
	"net/textproto"
	"time"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/transport"
)

// errorID is the ID of the errors the client edge makes up.
const errorID = "microsim.faults"

// ServerWrapper returns handler middleware that applies the RPC faults at
// the server edge of node, and the slowdowns of node faults. Add it to the
// node's server with server.WithHandlerWrapper, outermost. A call no fault
// matches costs one atomic load. It does not block; a call it acts on
// may wait (stall, overload queue, lost reply, slowdown), bounded by its ctx.
func (inj *Injector) ServerWrapper(node string) server.HandlerWrapper {
	return func(next server.HandlerFunc) server.HandlerFunc {
		return func(ctx context.Context, req *server.Request, rsp any) error {
			c := &rpcCall{edge: ServerEdge, node: node, service: req.Service, endpoint: req.Endpoint,
				header: func(k string) (string, bool) { return lookupHeader(req.Header, k) }}
			p := inj.planRPC(c)
			if p == nil {
				return next(ctx, req, rsp)
			}
			return p.run(ctx, func(ctx context.Context) error { return next(ctx, req, rsp) })
		}
	}
}

// ClientWrapper returns attempt middleware that applies the RPC faults at
// the client edge of node. Add it to the node's client with
// client.WithAttemptWrapper. It does not block; an attempt it acts on may
// wait (stall, lost reply), bounded by its ctx.
func (inj *Injector) ClientWrapper(node string) client.AttemptWrapper {
	return func(next client.AttemptFunc) client.AttemptFunc {
		return func(ctx context.Context, addr string, req *client.Request, rsp any) error {
			c := &rpcCall{edge: ClientEdge, node: node, service: req.Service, endpoint: req.Endpoint,
				header: func(k string) (string, bool) { return metadata.Value(ctx, k) }}
			p := inj.planRPC(c)
			if p == nil {
				return next(ctx, addr, req, rsp)
			}
			return p.run(ctx, func(ctx context.Context) error { return next(ctx, addr, req, rsp) })
		}
	}
}

// lookupHeader finds a header by its canonical key, or as given.
func lookupHeader(h map[string]string, canonical string) (string, bool) {
	if v, ok := h[canonical]; ok {
		return v, true
	}
	for k, v := range h {
		if textproto.CanonicalMIMEHeaderKey(k) == canonical {
			return v, true
		}
	}
	return "", false
}

// rpcPlan is what the faults in effect do to one call.
type rpcPlan struct {
	call      *rpcCall
	bulkheads []*bulkhead
	owners    []*Fault // of bulkheads
	stall     time.Duration
	reply     *rpcRun // the fault that decides the reply (error, abort, lost)
	factor    float64
	add       time.Duration
	slowedBy  []*Fault
	stalledBy []*Fault
}

// planRPC asks every RPC fault in effect (and every slowdown of the node at
// the server edge) about a call; nil means none acts on it.
func (inj *Injector) planRPC(c *rpcCall) *rpcPlan {
	a := inj.active.Load()
	if len(a.rpcs) == 0 && (c.edge != ServerEdge || len(a.slows) == 0) {
		return nil
	}
	var p *rpcPlan
	plan := func() *rpcPlan {
		if p == nil {
			p = &rpcPlan{call: c, factor: 1}
		}
		return p
	}
	for _, run := range a.rpcs {
		if !run.matches(c) || !run.decide(c) {
			continue
		}
		s, pl := &run.rf.spec, plan()
		if s.Overload != nil {
			pl.bulkheads = append(pl.bulkheads, run.bulkhead(c.node))
			pl.owners = append(pl.owners, run.rf.f)
			continue
		}
		if s.Stall > 0 {
			pl.stall += s.Stall
			pl.stalledBy = append(pl.stalledBy, run.rf.f)
		}
		if pl.reply == nil && (s.Error != errors.Unknown || s.Abort || s.LostReply) {
			pl.reply = run
		}
	}
	if c.edge == ServerEdge {
		for _, run := range a.slows {
			if factor, add, ok := run.decide(c.node); ok {
				pl := plan()
				pl.factor *= factor
				pl.add += add
				pl.slowedBy = append(pl.slowedBy, run.nf.f)
			}
		}
	}
	return p
}

// run carries out the plan around next, the rest of the call.
func (p *rpcPlan) run(ctx context.Context, next func(context.Context) error) error {
	c := p.call
	for i, b := range p.bulkheads {
		release, queued, refused, err := b.acquire(ctx)
		f := p.owners[i]
		switch {
		case refused:
			f.act(Touch{Action: "overloaded", Node: c.node, Service: c.service, Endpoint: c.endpoint})
			return errors.New(p.errID(), errors.Unavailable, "fault %q: %s overloaded: %d calls in progress and %d queued; %s not run",
				f.name, c.node, b.max, b.queue, c.endpoint)
		case queued:
			f.act(Touch{Action: "queued", Node: c.node, Service: c.service, Endpoint: c.endpoint})
		}
		if err != nil {
			return p.ctxError(err, "queued for "+c.endpoint)
		}
		defer release()
	}
	if p.stall > 0 {
		for _, f := range p.stalledBy {
			f.act(Touch{Action: "stalled", Node: c.node, Service: c.service, Endpoint: c.endpoint, Delay: p.stall})
		}
		if !sleepCtx(ctx, p.stall) {
			return p.ctxError(ctx.Err(), "stalled "+c.endpoint)
		}
	}
	if run := p.reply; run != nil {
		s, f := &run.rf.spec, run.rf.f
		switch {
		case s.Error != errors.Unknown:
			f.act(Touch{Action: "error", Node: c.node, Service: c.service, Endpoint: c.endpoint})
			return errors.New(p.errID(), s.Error, "fault %q: injected %s error on %s", f.name, s.Error, c.endpoint)
		case s.Abort:
			f.act(Touch{Action: "aborted", Node: c.node, Service: c.service, Endpoint: c.endpoint})
			if c.edge == ServerEdge {
				return errors.New(abortID, errors.Interrupted, "fault %q: call to %s aborted with no reply", f.name, c.endpoint)
			}
			return errors.Wrapf(errorID, errors.Interrupted, transport.ErrReset, "fault %q: call to %s aborted", f.name, c.endpoint)
		}
	}
	start := time.Now()
	err := next(ctx)
	if extra := time.Duration(float64(time.Since(start))*(p.factor-1)) + p.add; extra > 0 {
		for _, f := range p.slowedBy {
			f.act(Touch{Action: "slowed", Node: c.node, Service: c.service, Endpoint: c.endpoint, Delay: extra})
		}
		if !sleepCtx(ctx, extra) {
			return p.ctxError(ctx.Err(), "slowed "+c.endpoint)
		}
	}
	if run := p.reply; run != nil && run.rf.spec.LostReply {
		run.rf.f.act(Touch{Action: "lost_reply", Node: c.node, Service: c.service, Endpoint: c.endpoint})
		<-ctx.Done()
		return p.ctxError(ctx.Err(), "reply of "+c.endpoint+" lost")
	}
	return err
}

// errID is the ID of errors the plan makes up: the service at the server
// edge (as if its handler failed), the faults at the client edge.
func (p *rpcPlan) errID() string {
	if p.call.edge == ServerEdge {
		return p.call.service
	}
	return errorID
}

// ctxError is the error of a call whose ctx ended during a fault: the
// ctx's own error at the server edge (the server maps it), a coded error at
// the client edge.
func (p *rpcPlan) ctxError(err error, what string) error {
	if p.call.edge == ServerEdge {
		return err
	}
	code := errors.Canceled
	if err == context.DeadlineExceeded {
		code = errors.DeadlineExceeded
	}
	return errors.Wrapf(errorID, code, err, "fault: %s", what)
}
