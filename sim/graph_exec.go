package sim

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/codec"
	fwerrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/sim/scenario"
)

// stepPlan is a Step resolved for the engine: its calls, fan-out copies
// spelled out, each with its client options.
type stepPlan struct {
	calls    []*edgeCall
	need     int
	optional bool
	maxDepth int // 0: unbounded
	desc     string
}

// edgeCall is one call of a step.
type edgeCall struct {
	edge              int // metrics edge id, set when the metrics exist
	service, endpoint string
	key               uint64 // derives the callee's sequence number
	timeout           time.Duration
	opts              []client.CallOption
	goCallee          bool
	request           json.RawMessage // to a Go callee
	topic             string          // a publish step's topic (edge is then its stream)
}

// planSteps resolves an endpoint's steps for an instance of caller.
func (w *world) planSteps(caller, endpoint string, steps []scenario.Step) []stepPlan {
	var out []stepPlan
	for k := range steps {
		st := &steps[k]
		p := stepPlan{need: st.Needed(), optional: st.Optional, maxDepth: st.MaxDepth, desc: st.String()}
		for pi, c := range st.Calls() {
			if c.Publish != "" {
				p.calls = append(p.calls, &edgeCall{topic: c.Publish,
					key: streamKey(caller + "/" + endpoint + "/" + strconv.Itoa(k) + "/" + strconv.Itoa(pi))})
				continue
			}
			callee := w.service(c.Service)
			// Every copy of a fan-out carries the same sequence number: the
			// copies start at one instant and reach the selector in any
			// order, so which instance serves which copy varies between two
			// runs of a seed; with identical copies that does not matter.
			key := streamKey(caller + "/" + endpoint + "/" + strconv.Itoa(k) + "/" + strconv.Itoa(pi))
			for range max(c.Fanout, 1) {
				ec := &edgeCall{service: c.Service, endpoint: c.Endpoint, key: key}
				ec.timeout = st.Timeout.Std()
				if c.Timeout > 0 {
					ec.timeout = c.Timeout.Std()
				}
				ec.opts = edgeOptions(st, c, mix64(w.seed^ec.key))
				if callee != nil && callee.IsGo() {
					ec.goCallee = true
					req := c.Request
					if req == "" {
						req = "{}"
					}
					ec.request = json.RawMessage(req)
					ec.opts = append(ec.opts, client.WithCallContentType(codec.ContentTypeJSON))
				}
				p.calls = append(p.calls, ec)
			}
		}
		out = append(out, p)
	}
	return out
}

// edgeOptions are the per-edge client settings of call c of step st (an
// entry's own settings win over its step's).
func edgeOptions(st, c *scenario.Step, seed uint64) []client.CallOption {
	var opts []client.CallOption
	pick := func(a, b scenario.Duration) scenario.Duration {
		if a > 0 {
			return a
		}
		return b
	}
	if at := pick(c.AttemptTimeout, st.AttemptTimeout); at > 0 {
		opts = append(opts, client.WithCallAttemptTimeout(at.Std()))
	}
	r := c.Retries
	if r == nil {
		r = st.Retries
	}
	if r != nil {
		opts = append(opts, client.WithCallRetry(retryPolicy(r, seed)))
	}
	h := c.Hedging
	if h == nil {
		h = st.Hedging
	}
	if h != nil {
		opts = append(opts, client.WithCallHedging(hedgePolicy(h)))
	}
	if c.Idempotent || st.Idempotent {
		opts = append(opts, client.WithIdempotent())
	}
	return opts
}

// service returns the scenario's service called name (nil when none). It
// is asked on every call a Go handler or the entrance makes.
func (w *world) service(name string) *scenario.Service { return w.services[name] }

// synthetic reports whether the world runs service name's synthetic
// handlers (which speak the engine's own protocol).
func (w *world) synthetic(name string) bool {
	s := w.services[name]
	return s != nil && !s.IsGo()
}

// callSynthetic calls a synthetic service's endpoint for a caller that
// does not speak the engine's protocol (a Go handler, the entrance): the
// request is seq, sent with the bytes codec, and the reply is dropped.
func callSynthetic(ctx context.Context, cli client.Client, service, endpoint string, seq uint64, opts []client.CallOption) error {
	var body [8]byte
	binary.LittleEndian.PutUint64(body[:], seq)
	var out []byte
	opts = append(slices.Clip(opts), client.WithCallContentType(codec.ContentTypeBytes))
	return cli.Call(ctx, service, endpoint, body[:], &out, opts...)
}

// bindEdges gives every planned call its metrics edge (once the metrics
// exist, before the first call).
func (w *world) bindEdges() {
	for _, in := range w.instances {
		for _, b := range in.eps {
			for _, st := range b.steps {
				for _, c := range st.calls {
					if c.topic == "" {
						c.edge = w.metrics.edge(in.service, c.service, c.endpoint)
					}
				}
			}
		}
	}
}

// runSteps makes an endpoint's calls, step after step, for the call with
// sequence number seq. A failed step that is not optional fails the
// endpoint with the callee's error code.
func (in *instance) runSteps(ctx context.Context, steps []stepPlan, seq uint64, depth int) error {
	if !in.propagate {
		// No deadline and no cancellation travel on: the calls run to
		// their own timeouts whatever happens to the caller's request.
		ctx = context.WithoutCancel(ctx)
	}
	for i := range steps {
		st := &steps[i]
		if st.maxDepth > 0 && depth >= st.maxDepth {
			continue // the recursion ends here
		}
		var err error
		if len(st.calls) == 1 {
			err = in.edgeCall(ctx, st.calls[0], seq, depth+1, nil)
		} else {
			err = in.parallel(ctx, st, seq, depth)
		}
		if err != nil && !st.optional {
			return fwerrors.New(in.name, fwerrors.CodeOf(err), "call to %s failed: %v", st.desc, err)
		}
	}
	return nil
}

// parallel makes a step's calls at once and returns once st.need of them
// succeeded (the others are cancelled) or that can no longer happen.
func (in *instance) parallel(ctx context.Context, st *stepPlan, seq uint64, depth int) error {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan error, len(st.calls))
	var wg sync.WaitGroup
	wg.Add(len(st.calls))
	for _, c := range st.calls {
		in.w.tasks.run(func() {
			defer wg.Done()
			results <- in.edgeCall(cctx, c, seq, depth+1, ctx)
		})
	}
	ok, failed, n := 0, 0, len(st.calls)
	var first error
	for ok < st.need && failed <= n-st.need {
		if err := <-results; err == nil {
			ok++
		} else {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	cancel()
	wg.Wait()
	if ok >= st.need {
		return nil
	}
	return first
}

// edgeCall makes one call of a step and records it on its edge. outer,
// when not nil, is the step's ctx before its own cancellation: a call
// that failed only because the step cancelled it is counted apart.
func (in *instance) edgeCall(ctx context.Context, c *edgeCall, seq uint64, depth int, outer context.Context) error {
	if c.topic != "" {
		return in.publishStep(ctx, c, seq)
	}
	child := mix64(seq ^ c.key)
	var call *synthCall
	var cs *callState
	if c.goCallee {
		cs = &callState{Context: ctx, seq: child}
	} else {
		call = in.w.newSynthCall(ctx, child, depth, true)
		cs = &call.callState
	}
	var cctx context.Context = cs
	if c.timeout > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(cs, c.timeout)
		defer cancel()
	}
	start := time.Now()
	var err error
	if c.goCallee {
		var rsp json.RawMessage
		err = in.caller.cli.Call(cctx, c.service, c.endpoint, scenario.ExpandRequest(c.request, child), &rsp, c.opts...)
	} else {
		err = in.caller.cli.Call(cctx, c.service, c.endpoint, &call.req, &call.rsp, c.opts...)
	}
	// A call that failed once the step had what it needed was cancelled
	// by the step, not failed by the callee.
	cancelled := err != nil && outer != nil && ctx.Err() != nil && outer.Err() == nil
	in.w.metrics.edgeCall(c.edge, start, time.Since(start), err, cs.attempts.Load(), cancelled)
	// call is not reused (freeSynthCall): a context derived from cs (the
	// edge's timeout, the client's own when the step's ctx can end) may
	// still read it on its timer's goroutine once Call returned.
	return err
}

// taskPool runs the calls of parallel steps on goroutines kept for the
// next step once theirs returned, as callerPool does for open loops: a
// fresh goroutine per fan-out copy would grow its stack through the
// client again on every call (stack growth was ~10% of a three-tier
// run's CPU). The pool is as large as the most calls ever in flight at
// once; close ends its goroutines once their tasks returned.
type taskPool struct {
	idle chan func() // unbuffered: a send succeeds only to an idle goroutine
	wg   sync.WaitGroup
}

func newTaskPool() *taskPool { return &taskPool{idle: make(chan func())} }

// run starts f now, on an idle goroutine or a new one. It does not block.
func (p *taskPool) run(f func()) {
	select {
	case p.idle <- f:
	default:
		p.wg.Add(1)
		go p.loop(f)
	}
}

func (p *taskPool) loop(f func()) {
	defer p.wg.Done()
	for ok := true; ok; f, ok = <-p.idle {
		f()
	}
}

// close lets the pool's goroutines exit and waits for them; no task may
// be started after it.
func (p *taskPool) close() {
	close(p.idle)
	p.wg.Wait()
}
