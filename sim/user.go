package sim

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/codec"
	fwerrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/sim/scenario"
)

// Services implemented in Go: a scenario marks a service
// `implementation: go` and the test that runs it supplies the handlers.
// Each instance gets its own server (the framework's, as for synthetic
// services) and its own client, so a handler that calls other services
// goes through the simulated world's selector, retries and faults, and a
// call graph of the user's code forms by itself.

// ServerSetup registers a Go service's handlers (and subscribers) on the
// server of one instance. c is the instance's client, for the calls and
// publications the handlers make; the world owns it (do not Close it).
// It is called at every start of the instance, restarts after a crash
// or stop included, as a process would start again with fresh state.
type ServerSetup func(srv server.Server, c client.Client) error

// WithService supplies the handlers of the scenario's service name
// (which must say implementation: go): build returns, for one instance
// given the instance's client, the value whose exported methods are the
// endpoints (what server.Handle takes) — or a Registrar, which registers
// its endpoints and subscriptions itself.
func WithService(name string, build func(c client.Client) any) RunOption {
	return WithServer(name, func(srv server.Server, c client.Client) error {
		h := build(c)
		if r, ok := h.(Registrar); ok {
			return r.Register(srv)
		}
		return srv.Handle(h)
	})
}

// Registrar is a handler that registers itself on a server: subscribers,
// endpoints with options, HandleFunc. simtest uses the same convention.
type Registrar interface {
	Register(srv server.Server) error
}

// WithServer supplies the handlers of the scenario's service name (which
// must say implementation: go) with full access to each instance's
// server: Handle with options, HandleFunc, Subscribe.
func WithServer(name string, setup ServerSetup) RunOption {
	return func(c *runConfig) {
		if c.impls == nil {
			c.impls = map[string]ServerSetup{}
		}
		c.impls[name] = setup
	}
}

// checkImpls matches the Go implementations given to a run with the
// scenario's services.
func checkImpls(sc *scenario.Scenario, impls map[string]ServerSetup) error {
	var problems []string
	for _, s := range sc.Topology.Services {
		_, ok := impls[s.Name]
		switch {
		case s.IsGo() && !ok:
			problems = append(problems, fmt.Sprintf("service %q is implemented in Go: run it with sim.WithService(%q, ...) or sim.WithServer", s.Name, s.Name))
		case !s.IsGo() && ok:
			problems = append(problems, fmt.Sprintf("service %q is given a Go implementation but the scenario describes it (add implementation: go to the service)", s.Name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(impls)) {
		if !slices.ContainsFunc(sc.Topology.Services, func(s scenario.Service) bool { return s.Name == name }) {
			problems = append(problems, fmt.Sprintf("a Go implementation is given for service %q, which the scenario does not have", name))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("sim: scenario %q: %s", sc.Name, strings.Join(problems, "; "))
	}
	return nil
}

// newCaller builds the instance's own client when its endpoints make
// calls or its handlers come from Go.
func (w *world) newCaller(in *instance) error {
	needs, pub := in.svc.IsGo(), in.svc.IsGo()
	for _, b := range in.eps {
		needs = needs || len(b.steps) > 0
		pub = pub || publishes(b.steps)
	}
	if !needs {
		return nil
	}
	cfg := in.svc.Client
	if cfg == nil {
		cfg = &scenario.Client{}
	}
	ct := codec.ContentTypeBytes
	var extra []client.Option
	if in.svc.IsGo() {
		ct = client.DefaultContentType
	}
	if pub {
		extra = append(extra, client.WithBroker(w.publisher(in.name, in.host)))
	}
	tr := transport.Transport(in.host.Transport())
	if w.callerTransport != nil {
		var err error
		if tr, err = w.callerTransport(); err != nil {
			return fmt.Errorf("instance %s: client: %w", in.name, err)
		}
	}
	c, err := w.buildClient(in.name, cfg, in.zone, "instance/"+in.name, tr, ct, extra...)
	if err != nil {
		return fmt.Errorf("instance %s: client: %w", in.name, err)
	}
	in.caller = c
	return nil
}

// startGo registers the Go implementation on srv, under the handler
// faults of the timeline.
func (in *instance) setupGo(srv server.Server) error {
	setup := in.w.impls[in.service]
	if err := setup(srv, &userClient{in: in, cli: in.caller.cli}); err != nil {
		return fmt.Errorf("instance %s: the Go implementation of %s: %w", in.name, in.service, err)
	}
	return nil
}

// userClient is the client a Go handler gets: the instance's client,
// recording each call on its edge, and speaking the synthetic services'
// protocol when it calls one (their handlers take the call's sequence
// number, not the user's request; the user's response stays as it was).
type userClient struct {
	in  *instance
	cli client.Client
}

// Call implements client.Client.
func (u *userClient) Call(ctx context.Context, service, endpoint string, req, rsp any, opts ...client.CallOption) error {
	in := u.in
	if !in.propagate {
		ctx = context.WithoutCancel(ctx)
	}
	cs := &callState{Context: ctx, seq: in.nextSeq()}
	start := time.Now()
	var err error
	if in.w.synthetic(service) {
		err = callSynthetic(cs, u.cli, service, endpoint, cs.seq, opts)
	} else {
		err = u.cli.Call(cs, service, endpoint, req, rsp, opts...)
	}
	if m := in.w.metrics; m != nil {
		m.edgeCallTo(in.service, service, endpoint, start, time.Since(start), err, cs.attempts.Load())
	}
	return err
}

// Stream implements client.Client.
func (u *userClient) Stream(ctx context.Context, service, endpoint string, opts ...client.CallOption) (client.Stream, error) {
	return u.cli.Stream(ctx, service, endpoint, opts...)
}

// Publish implements client.Client.
func (u *userClient) Publish(ctx context.Context, topic string, msg any, opts ...client.PublishOption) error {
	return u.cli.Publish(ctx, topic, msg, opts...)
}

// Close implements client.Client: the world closes the instance's client.
func (u *userClient) Close() error { return nil }

// nextSeq is the sequence number of a call a Go handler makes, or of a
// request it serves under a handler fault.
func (in *instance) nextSeq() uint64 {
	return mix64(in.seed ^ in.userSeq.Add(1))
}

// effectWrapper gives a Go service its scenario latency and the
// timeline's handler faults. Its endpoint latency (virtual time its
// handler does not spend by itself) passes before the handler runs. An
// errors fault fails the request before the handler runs. A slow fault
// multiplies the endpoint latency and the handler's own virtual time (the
// calls it makes, its sleeps) by factor, and adds add before the handler:
// a handler that takes no virtual time and has no latency is not slowed
// by a factor alone (it multiplies zero), only by add. touched counts the
// requests a fault changed.
func (in *instance) effectWrapper(next server.HandlerFunc) server.HandlerFunc {
	return func(ctx context.Context, req *server.Request, rsp any) error {
		fx := in.effects.Load()
		base, hasBase := in.goLatency[req.Endpoint]
		if (fx == nil || len(fx.list) == 0) && !hasBase {
			return next(ctx, req, rsp)
		}
		draws := newCallDraws(in.seed, in.nextSeq())
		var before time.Duration
		if hasBase {
			before = time.Duration(float64(base.latency.draw(draws.next(), draws.next())) * base.factor)
		}
		factor := 1.0
		var stretch []*atomic.Int64 // faults whose factor acts after the handler
		if fx != nil {
			var add time.Duration
			for _, e := range fx.list {
				if e.endpoint != "" && e.endpoint != req.Endpoint {
					continue
				}
				if e.errRate > 0 && draws.next() < e.errRate {
					e.touched.Add(1)
					return fwerrors.New(in.name, e.errCode, "%s failed (injected fault)", req.Endpoint)
				}
				acted := false
				if e.factor != 1 {
					factor *= e.factor
					acted = before > 0
					stretch = append(stretch, e.touched)
				}
				if e.hasAdd {
					if d := e.add.draw(draws.next(), draws.next()); d > 0 {
						add += d
						acted = true
					}
				}
				if acted {
					e.touched.Add(1)
				}
			}
			before = time.Duration(float64(before)*factor) + add
		}
		if before > 0 && !sleepFor(ctx, before) {
			return ctx.Err()
		}
		start := time.Now()
		err := next(ctx, req, rsp)
		if d := time.Since(start); factor != 1 && d > 0 {
			for _, t := range stretch {
				t.Add(1)
			}
			if extra := time.Duration(float64(d) * (factor - 1)); extra > 0 && !sleepFor(ctx, extra) {
				return ctx.Err()
			}
		}
		return err
	}
}

// subscriberBroker is the broker a Go service's server subscribes with.
func (in *instance) subscriberBroker() broker.Broker { return in.host.Broker() }

// sleepFor sleeps d unless ctx ends first (false then).
func sleepFor(ctx context.Context, d time.Duration) bool { return sleepUntil(ctx, time.Now().Add(d)) }
