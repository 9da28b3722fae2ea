package sim

import (
	"cmp"
	"context"
	"encoding/json"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/codec"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/sim/scenario"
)

// workload generates one Workload's calls in virtual time: open loop from
// one scheduler goroutine that starts a goroutine per call at its arrival
// time, or closed loop from Concurrency workers. Every draw (arrival gaps,
// endpoint mix) comes from the workload's own stream.
type workload struct {
	id      int
	name    string
	spec    *scenario.Workload
	cli     *simClient
	series  []int    // metrics series per mix entry
	eps     []string // endpoint per mix entry
	cum     []float64
	start   time.Time
	end     time.Time
	opts    []client.CallOption
	calls   uint64 // sequence numbers handed out (owned by the issuing goroutine)
	seqBase uint64
	// request is the JSON request of a service implemented in Go (nil:
	// a synthetic service, sent the call's sequence number).
	request json.RawMessage
	// topic, size and stream: a publishing workload's events.
	topic  string
	size   int
	stream int
	// msgStream is a stream workload's metrics (when spec.Stream is set).
	msgStream int
}

func (w *world) newWorkload(i int, spec *scenario.Workload, t0 time.Time) *workload {
	name := spec.Name
	if name == "" {
		name = "w" + itoa(i)
	}
	cname := spec.Client
	if cname == "" {
		cname = w.order[0]
	}
	wl := &workload{id: i, name: name, spec: spec, cli: w.clients[cname], seqBase: uint64(i+1) << 40}
	mix := spec.Mix
	if len(mix) == 0 {
		mix = []scenario.MixEntry{{Endpoint: spec.Endpoint, Weight: 1}}
	}
	if spec.Stream != nil {
		wl.msgStream = w.metrics.addStreams(name)
	}
	if p := spec.Publish; p != nil {
		wl.topic, wl.size, wl.stream = p.Topic, p.Size, w.metrics.topicStream(p.Topic)
		mix = []scenario.MixEntry{{Endpoint: "publish " + p.Topic, Weight: 1}}
	}
	total := 0.0
	for _, m := range mix {
		total += m.Share()
		wl.cum = append(wl.cum, total)
		wl.eps = append(wl.eps, m.Endpoint)
		wl.series = append(wl.series, w.metrics.addSeries(name, m.Endpoint, wl.cli.name))
	}
	wl.start = t0.Add(spec.Start.Std())
	wl.end = t0.Add(w.sc.Duration.Std())
	if spec.Duration > 0 {
		wl.end = wl.start.Add(spec.Duration.Std())
	}
	if spec.Idempotent {
		wl.opts = append(wl.opts, client.WithIdempotent())
	}
	if svc := w.service(spec.Service); svc != nil && svc.IsGo() {
		wl.request = json.RawMessage(cmp.Or(spec.Request, "{}"))
		wl.opts = append(wl.opts, client.WithCallContentType(codec.ContentTypeJSON))
	}
	return wl
}

func itoa(i int) string { return string(appendInt(nil, i)) }

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

// pick draws a mix entry.
func (wl *workload) pick(r *rand.Rand) int {
	if len(wl.cum) == 1 {
		return 0
	}
	x := r.Float64() * wl.cum[len(wl.cum)-1]
	for k, c := range wl.cum {
		if x < c {
			return k
		}
	}
	return len(wl.cum) - 1
}

// rateAt is the open-loop rate at offset t from the workload's start.
func (wl *workload) rateAt(t time.Duration) float64 {
	s := wl.spec
	if len(s.Ramp) == 0 {
		return s.Rate
	}
	pts := s.Ramp
	if t <= pts[0].At.Std() {
		return pts[0].Rate
	}
	for k := 1; k < len(pts); k++ {
		a, b := pts[k-1], pts[k]
		if t <= b.At.Std() {
			f := float64(t-a.At.Std()) / float64(b.At.Std()-a.At.Std())
			return a.Rate + f*(b.Rate-a.Rate)
		}
	}
	return pts[len(pts)-1].Rate
}

// run issues the workload's calls until its end; calls still in flight
// are tracked by inflight.
func (w *world) runWorkload(ctx context.Context, wl *workload, inflight *sync.WaitGroup) {
	if !sleepUntil(ctx, wl.start) {
		return
	}
	if wl.spec.Concurrency > 0 {
		var workers sync.WaitGroup
		for k := range wl.spec.Concurrency {
			r := newRand(w.seed, "workload/"+wl.name+"/worker/"+itoa(k))
			seq := wl.seqBase | uint64(k)<<28
			workers.Go(func() { w.closedLoop(ctx, wl, r, seq) })
		}
		workers.Wait()
		return
	}
	w.openLoop(ctx, wl, inflight)
}

// openLoop starts each call at its arrival time. Arrivals are a unit-rate
// process (Poisson: exponential gaps; uniform: one per unit) mapped
// through the inverse of the cumulative rate, which is exact for a
// constant rate and for a ramp.
func (w *world) openLoop(ctx context.Context, wl *workload, inflight *sync.WaitGroup) {
	r := newRand(w.seed, "workload/"+wl.name)
	uniform := wl.spec.Arrivals == scenario.ArrivalsUniform
	span := wl.end.Sub(wl.start)
	total := wl.cumulative(span)
	s := 0.0 // arrivals so far, in the unit-rate time
	if uniform && wl.rateAt(0) <= 0 {
		s = 1
	}
	callers := &callerPool{ctx: callCtx(ctx), w: w, wl: wl, inflight: inflight, idle: make(chan openCall)}
	defer callers.close()
	var sleep sleeper
	defer sleep.stop()
	for {
		if !uniform {
			s += r.ExpFloat64()
		}
		if s >= total {
			return
		}
		t := wl.start.Add(wl.inverse(s, span))
		if uniform {
			s++
		}
		if !t.Before(wl.end) || !sleep.until(ctx, t) {
			return
		}
		k := wl.pick(r)
		seq := wl.seqBase | wl.calls
		wl.calls++
		callers.start(openCall{k: k, seq: seq})
	}
}

// openCall is one call of an open loop: its mix entry and sequence number.
type openCall struct {
	k   int
	seq uint64
}

// callerPool runs an open loop's calls on goroutines that are kept for the
// next call once theirs returns, so that a run of 600k calls does not
// start 600k goroutines and grow each one's stack through the client and
// its wrappers again (that growth was ~8 % of the simulator's CPU). A call
// still starts at once: it goes to an idle goroutine when there is one and
// to a new goroutine otherwise, so the pool is as large as the most calls
// that were ever in flight together.
type callerPool struct {
	ctx      context.Context
	w        *world
	wl       *workload
	inflight *sync.WaitGroup // counts the pool's goroutines
	idle     chan openCall   // unbuffered: a send succeeds only to an idle goroutine
}

// start starts c now. It does not block.
func (p *callerPool) start(c openCall) {
	select {
	case p.idle <- c:
	default:
		p.inflight.Add(1)
		go p.run(c)
	}
}

// run makes c, then the calls handed to it, until close.
func (p *callerPool) run(c openCall) {
	defer p.inflight.Done()
	for ok := true; ok; c, ok = <-p.idle {
		p.w.call(p.ctx, p.wl, c.k, c.seq)
	}
}

// close lets the pool's goroutines exit once their calls returned.
func (p *callerPool) close() { close(p.idle) }

// cumulative is the expected number of arrivals in [0, t) of the
// workload: the integral of its rate.
func (wl *workload) cumulative(t time.Duration) float64 {
	pts := wl.spec.Ramp
	if len(pts) == 0 {
		return wl.spec.Rate * t.Seconds()
	}
	total := 0.0
	prevT, prevR := time.Duration(0), pts[0].Rate
	for _, p := range pts {
		at := p.At.Std()
		if at > t {
			// Partial segment up to t.
			rt := wl.rateAt(t)
			return total + (prevR+rt)/2*(t-prevT).Seconds()
		}
		total += (prevR + p.Rate) / 2 * (at - prevT).Seconds()
		prevT, prevR = at, p.Rate
	}
	return total + prevR*(t-prevT).Seconds()
}

// inverse is the time at which cumulative reaches s (s < cumulative(span)).
func (wl *workload) inverse(s float64, span time.Duration) time.Duration {
	if len(wl.spec.Ramp) == 0 {
		return time.Duration(s / wl.spec.Rate * float64(time.Second))
	}
	lo, hi := time.Duration(0), span
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if wl.cumulative(mid) > s {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// closedLoop is one worker: call, think, call again, until the end.
func (w *world) closedLoop(ctx context.Context, wl *workload, r *rand.Rand, seq uint64) {
	calls := callCtx(ctx)
	for n := uint64(0); time.Now().Before(wl.end) && ctx.Err() == nil; n++ {
		w.call(calls, wl, wl.pick(r), seq|n)
		if think := wl.spec.Think.Std(); think > 0 && !sleepUntil(ctx, time.Now().Add(think)) {
			return
		}
	}
}

// callCtx is the parent ctx of a workload's calls: ctx's values without
// its cancellation. The run's ctx ends only after every call returned (the
// engine waits for them first), so nothing is lost, and the client sees a
// ctx that can never be cancelled: with no deadline of the caller's, it
// takes its default-timeout fast path (one allocation instead of a
// context.WithTimeout).
//
// It is not context.WithoutCancel's ctx, whose Value boxes a copy of the
// ctx on every lookup (an allocation per call: the client looks up the
// call's metadata), but a pointer that forwards the lookup. Unlike
// WithoutCancel's, it does not hide ctx's cancellation from context.Cause
// asked of a ctx below it that ended on its own: as the run's ctx ends
// only after every call returned, the cause found there is always nil
// while a call runs, and Cause returns the ctx's own error, as it would
// under WithoutCancel.
func callCtx(ctx context.Context) context.Context { return &detachedCtx{parent: ctx} }

// detachedCtx is callCtx's ctx: parent's values, never cancelled, no
// deadline.
type detachedCtx struct{ parent context.Context }

func (*detachedCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (*detachedCtx) Done() <-chan struct{}       { return nil }
func (*detachedCtx) Err() error                  { return nil }
func (c *detachedCtx) Value(key any) any         { return c.parent.Value(key) }
func (c *detachedCtx) String() string            { return "sim.callCtx" }

// call makes one call and records it.
func (w *world) call(ctx context.Context, wl *workload, k int, seq uint64) {
	call := w.newSynthCall(ctx, seq, 0, false)
	cs := &call.callState
	start := time.Now()
	opts := wl.opts
	if n := wl.spec.Keys; n > 0 {
		key := "key-" + itoa(int(mix64(seq)%uint64(n)))
		opts = append(opts[:len(opts):len(opts)], client.WithSelectOption(selector.WithHashKey(key)))
	}
	var err error
	// A publish or a stream may leave work behind that holds cs (a
	// delivery, a stream's watch); a call leaves nothing: cs's parent is
	// never cancelled (callCtx), so the client derives nothing from cs but
	// its own deadline ctx, which only forwards Value. Only a call's state
	// is reused (freeSynthCall).
	reuse := false
	switch {
	case wl.topic != "":
		err = w.publish(cs, wl.cli.cli, wl.topic, wl.stream, seq, wl.size)
		cs.attempts.Store(1)
	case wl.spec.Stream != nil:
		err = w.stream(cs, wl, k, seq)
		cs.attempts.Store(1)
	case wl.request != nil:
		var out json.RawMessage
		err = wl.cli.cli.Call(cs, wl.spec.Service, wl.eps[k], scenario.ExpandRequest(wl.request, seq), &out, opts...)
		reuse = true
	default:
		err = wl.cli.cli.Call(cs, wl.spec.Service, wl.eps[k], &call.req, &call.rsp, opts...)
		reuse = true
	}
	w.metrics.call(wl.series[k], start, time.Since(start), err, cs.attempts.Load())
	if reuse {
		w.freeSynthCall(call)
	}
}

// sleepUntil sleeps until t; it returns false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	var s sleeper
	defer s.stop()
	return s.until(ctx, t)
}

// sleeper is sleepUntil for a loop that sleeps many times (an open loop
// sleeps before each of its calls): one timer, reset for each sleep. The
// zero value is ready; stop releases the timer.
type sleeper struct{ timer *time.Timer }

func (s *sleeper) until(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	if s.timer == nil {
		s.timer = time.NewTimer(d)
	} else {
		// Since Go 1.23 Reset discards a value the channel may hold.
		s.timer.Reset(d)
	}
	select {
	case <-s.timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *sleeper) stop() {
	if s.timer != nil {
		s.timer.Stop()
	}
}
