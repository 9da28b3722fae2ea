package client

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	stderrors "errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/microsim/microsim/framework/codec"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/internal/wire"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/internal/poison"
)

// errorID is the ID of errors the client produces itself.
const errorID = "microsim.client"

type rpcClient struct {
	sel    selector.Selector
	tr     transport.Transport
	opts   options
	pool   *pool
	closed atomic.Bool

	budget *budget // nil: retries are bounded by the retry policy only
	lat    latencyBook
	stats  counters

	call    CallFunc    // the whole call, wrapped
	attempt AttemptFunc // one attempt, wrapped
	publish PublishFunc // one Publish to the broker, wrapped
	stream  StreamFunc  // opens a stream, wrapped

	msgs     sync.Pool // of *transport.Message: request messages (requestMessage)
	bufs     sync.Pool // of *[]byte: request encodings (encode)
	expiries sync.Pool // of *expiry: the timers of default-timeout contexts
	frames   sync.Pool // of *callFrame: those of returned calls (WithCallReuse)

	// timeout is the last Micro-Timeout value of whole milliseconds the
	// client formatted, to give again (timeoutValue).
	timeout atomic.Pointer[timeoutText]
}

// timeoutText is a Micro-Timeout value and the time left it encodes.
type timeoutText struct {
	d time.Duration
	s string
}

// timeoutValue returns the Micro-Timeout value of an attempt of r with d
// left. In virtual time (testing/synctest) an attempt that starts at once
// has exactly its call's or its own timeout left, the same value call
// after call: the client keeps the last one of whole milliseconds and
// gives it again, so that such attempts format and allocate nothing. In
// real time the time left is never a round figure (the clock has
// nanoseconds), so nothing is kept and nothing written that other calls
// read.
func (c *rpcClient) timeoutValue(r *Request, d time.Duration) string {
	if t := c.timeout.Load(); t != nil && t.d == d {
		return t.s
	}
	if d%time.Millisecond != 0 {
		return r.timeoutHeader(d)
	}
	t := &timeoutText{d: d, s: wire.FormatTimeout(d)}
	c.timeout.Store(t)
	return t.s
}

// New returns a client that finds nodes with sel and reaches them over tr.
// It does not block. An invalid option makes it fail with an error naming it.
// The client implements StatsReporter. In a testing/synctest bubble, create
// it inside the bubble that uses it (its retry budget reads the clock).
func New(sel selector.Selector, tr transport.Transport, opts ...Option) (Client, error) {
	if sel == nil {
		return nil, fmt.Errorf("client: nil selector")
	}
	if tr == nil {
		return nil, fmt.Errorf("client: nil transport")
	}
	o := options{
		contentType:    DefaultContentType,
		defaultTimeout: DefaultTimeout,
		poolSize:       DefaultPoolSize,
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.codecs == nil {
		o.codecs = codec.Standard()
	}
	if _, err := o.codecs.Lookup(o.contentType); err != nil {
		return nil, fmt.Errorf("client: default content type: %w", err)
	}
	if o.rng == nil {
		var seed [16]byte
		_, _ = crand.Read(seed[:])
		o.rng = rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
	}
	if o.retry == nil {
		o.retry = DefaultPolicy{
			MaxAttempts: DefaultMaxAttempts,
			Backoff:     ExponentialBackoff(DefaultBackoffBase, DefaultBackoffCap, o.rng),
		}
	}
	c := &rpcClient{sel: sel, tr: tr, opts: o, pool: newPool(tr, o.poolSize)}
	if o.budget != nil {
		c.budget = newBudget(*o.budget)
	}
	c.call = c.doCall
	for i := len(o.callWrappers) - 1; i >= 0; i-- {
		c.call = o.callWrappers[i](c.call)
	}
	c.attempt = c.doAttempt
	for i := len(o.attemptWrappers) - 1; i >= 0; i-- {
		c.attempt = o.attemptWrappers[i](c.attempt)
	}
	c.publish = c.doPublish
	for i := len(o.pubWrappers) - 1; i >= 0; i-- {
		c.publish = o.pubWrappers[i](c.publish)
	}
	c.stream = c.doStream
	for i := len(o.streamWrappers) - 1; i >= 0; i-- {
		c.stream = o.streamWrappers[i](c.stream)
	}
	return c, nil
}

// Close implements Client.
func (c *rpcClient) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.pool.close()
	}
	return nil
}

func (c *rpcClient) callOptions(opts []CallOption) CallOptions {
	var co CallOptions
	c.setCallOptions(&co, opts)
	return co
}

// setCallOptions sets *co to the client's defaults with opts applied.
func (c *rpcClient) setCallOptions(co *CallOptions, opts []CallOption) {
	*co = CallOptions{ContentType: c.opts.contentType, AttemptTimeout: c.opts.attemptTimeout, Retry: c.opts.retry, Hedge: c.opts.hedge}
	for _, o := range opts {
		o(co)
	}
}

// Call implements Client.
func (c *rpcClient) Call(ctx context.Context, service, endpoint string, req, rsp any, opts ...CallOption) error {
	c.stats.calls.Add(1)
	err := c.startCall(ctx, service, endpoint, req, rsp, opts)
	c.stats.result(err)
	return err
}

func (c *rpcClient) startCall(ctx context.Context, service, endpoint string, req, rsp any, opts []CallOption) error {
	if c.closed.Load() {
		return errors.Wrapf(errorID, errors.Unavailable, ErrClosed, "call %s.%s", service, endpoint)
	}
	if service == "" || endpoint == "" {
		return errors.New(errorID, errors.BadRequest, "call needs a service and an endpoint, got service %q endpoint %q", service, endpoint)
	}
	// One allocation holds the Request and, if needed, the deadline ctx.
	f := c.takeFrame()
	r := &f.req
	c.setCallOptions(&r.opts, opts)
	r.Service, r.Endpoint, r.ContentType, r.Body, r.Idempotent = service, endpoint, r.opts.ContentType, req, r.opts.Idempotent
	var err error
	if _, ok := ctx.Deadline(); ok {
		err = c.call(ctx, r, rsp)
	} else if ctx.Done() == nil {
		// Never cancelled: the default timeout is all there is to
		// enforce, which deadlineCtx does for one allocation.
		err = c.callUntilEnd(ctx, f, rsp)
	} else {
		err = c.callWithTimeout(ctx, r, rsp)
	}
	// Not reached when the call panicked: the frame is left to the GC.
	c.freeFrame(f)
	return err
}

// callUntilEnd makes the call of f under its deadline ctx, over parent,
// and ends that ctx once the call returned (or panicked).
func (c *rpcClient) callUntilEnd(parent context.Context, f *callFrame, rsp any) error {
	f.ctx.start(parent, c.opts.defaultTimeout, &c.expiries)
	defer f.ctx.end(&c.expiries)
	return c.call(&f.ctx, &f.req, rsp)
}

// callWithTimeout makes the call of r under ctx bounded by the client's
// default timeout.
func (c *rpcClient) callWithTimeout(ctx context.Context, r *Request, rsp any) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.defaultTimeout)
	defer cancel()
	return c.call(ctx, r, rsp)
}

// takeFrame returns a frame for a call: one a returned call left, with
// WithCallReuse, else a new one.
func (c *rpcClient) takeFrame() *callFrame {
	if c.opts.reuseCalls {
		if f, _ := c.frames.Get().(*callFrame); f != nil {
			return f
		}
	}
	return &callFrame{}
}

// freeFrame keeps f, whose call returned, for a later call, with
// WithCallReuse and when nothing can touch it any more. Built with
// microsim_poison, it is overwritten instead (reset) and left to the GC,
// so that whatever kept its Request or ctx finds them empty.
func (c *rpcClient) freeFrame(f *callFrame) {
	if !c.opts.reuseCalls || !f.reusable() {
		return
	}
	f.reset()
	if !poison.On {
		c.frames.Put(f)
	}
}

// doCall is the unwrapped call: encode once, then attempt until success,
// a final error, or the retry policy (or the retry budget) gives up. Calls
// marked idempotent with a hedge policy are hedged (hedgedCall).
func (c *rpcClient) doCall(ctx context.Context, r *Request, rsp any) error {
	cd, err := c.opts.codecs.Lookup(r.ContentType)
	if err != nil {
		return errors.Wrapf(errorID, errors.BadRequest, err, "call %s.%s", r.Service, r.Endpoint)
	}
	h := r.opts.Hedge
	if h != nil {
		if err := h.validate(); err != nil {
			return errors.Wrapf(errorID, errors.BadRequest, err, "call %s.%s", r.Service, r.Endpoint)
		}
	}
	buf, err := c.encode(cd, r)
	if err != nil {
		return errors.Wrapf(errorID, errors.BadRequest, err, "encode request for %s.%s", r.Service, r.Endpoint)
	}
	if buf != nil {
		defer c.bufs.Put(buf) // every attempt has ended when doCall returns
	}
	r.codec = cd

	pick, err := c.sel.Select(ctx, r.Service, r.opts.SelectOptions...)
	if err != nil {
		return selectError(r, err)
	}
	// Every attempt, hedges included, has ended when doCall returns; pick
	// may have been replaced by then (see pick), so release the last one.
	defer func() { pick.Release() }()
	if c.budget != nil {
		c.budget.deposit()
	}
	var est *latencies
	if h != nil && h.Percentile > 0 {
		est = c.lat.of(r.Service)
	}
	if h != nil && h.MaxHedges > 0 && r.Idempotent && hedgeable(rsp) {
		return c.hedgedCall(ctx, r, rsp, &pick, h, est)
	}
	var lastErr error
	for attempt := 1; ; attempt++ {
		if err := deadlineError(ctx, r); err != nil {
			return err
		}
		node, err := c.pick(ctx, r, &pick, lastErr != nil)
		if err != nil {
			if lastErr != nil {
				return lastErr
			}
			return selectError(r, err)
		}
		err = c.runAttempt(ctx, AttemptInfo{Number: attempt, Node: node}, r, rsp, est)
		if err == nil {
			return nil
		}
		lastErr = err
		wait, retry := c.retry(ctx, r, attempt, err)
		if !retry {
			return err
		}
		if sleepCtx(ctx, wait) != nil {
			return err
		}
	}
}

// maxPooledBuf bounds the request encodings the client keeps for reuse:
// room for a 64 KiB payload with its encoding's few extra bytes and
// append's rounding up (a bound of exactly 64 KiB kept none of them).
const maxPooledBuf = 128 << 10

// encode sets r.body to the encoding of r.Body. When the codec can append
// and no attempt wrapper could hold on to the request after the call, it
// encodes into a buffer from the client's pool and returns it, for doCall
// to put back once the call has ended (Send copies the body, and every
// attempt, hedges included, has ended when doCall returns).
func (c *rpcClient) encode(cd codec.Codec, r *Request) (*[]byte, error) {
	a, ok := cd.(codec.Appender)
	if !ok || len(c.opts.attemptWrappers) > 0 {
		var err error
		r.body, err = cd.Marshal(r.Body)
		return nil, err
	}
	buf, _ := c.bufs.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	b, err := a.MarshalAppend((*buf)[:0], r.Body)
	if err != nil {
		c.bufs.Put(buf)
		return nil, err
	}
	r.body = b
	if cap(b) > maxPooledBuf {
		c.bufs.Put(buf)
		return nil, nil
	}
	*buf = b
	return buf, nil
}

// pick returns the node for the next attempt from *p. When every node was
// tried once and the call is retrying, it starts a new round over all of
// them: *p is released and replaced by a new Pick, which the caller then
// owns (and releases) instead. Only the call's own goroutine calls it.
func (c *rpcClient) pick(ctx context.Context, r *Request, p *selector.Pick, retrying bool) (*registry.Node, error) {
	node, err := p.Next()
	if retrying && stderrors.Is(err, selector.ErrNoneAvailable) {
		var np selector.Pick
		if np, err = c.sel.Select(ctx, r.Service, r.opts.SelectOptions...); err == nil {
			p.Release()
			*p = np
			node, err = np.Next()
		}
	}
	return node, err
}

// runAttempt bounds one attempt (a, on node a.Node, whose ctx carries a
// for the attempt wrappers) by the per-attempt timeout and reports its
// outcome to the selector (Tracker.Begin/done when it tracks load, else
// Mark) exactly once. An attempt cancelled because another attempt of its
// call won is reported as Canceled (lostError). With est, the latency of a
// successful attempt is recorded there.
func (c *rpcClient) runAttempt(ctx context.Context, a AttemptInfo, r *Request, rsp any, est *latencies) error {
	if d := r.opts.AttemptTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	node := a.Node
	ctx = c.withAttempt(ctx, a, r)
	c.stats.attempts.Add(1)
	done := c.begin(r.Service, node)
	var t0 time.Time
	if est != nil {
		t0 = time.Now()
	}
	err := c.attempt(ctx, node.Address, r, rsp)
	if err != nil && context.Cause(ctx) == ErrHedgeLost {
		err = lostError(r, node.Address)
	}
	done(err)
	if err == nil && est != nil {
		est.record(time.Since(t0))
	}
	return err
}

// begin starts tracking one attempt on node; the returned func ends it.
func (c *rpcClient) begin(service string, node *registry.Node) func(error) {
	if t, ok := c.sel.(selector.Tracker); ok {
		return t.Begin(service, node)
	}
	return func(err error) { c.sel.Mark(service, node, err) }
}

// deadlineError returns the error of a call whose ctx has ended or whose
// deadline has passed (even if ctx does not say so yet), so that no attempt
// is sent that the server would refuse on arrival; nil otherwise.
func deadlineError(ctx context.Context, r *Request) error {
	_, _, err := timeLeft(ctx, r)
	return err
}

// timeLeft is deadlineError that also returns the time left before ctx's
// deadline, when it has one (ok), from the same reading of the clock.
func timeLeft(ctx context.Context, r *Request) (left time.Duration, ok bool, err error) {
	cerr := ctx.Err()
	if cerr == nil {
		var dl time.Time
		if dl, ok = ctx.Deadline(); !ok {
			return 0, false, nil
		}
		if left = time.Until(dl); left > 0 {
			return left, true, nil
		}
		cerr = context.DeadlineExceeded
	}
	code := errors.DeadlineExceeded
	if cerr == context.Canceled {
		code = errors.Canceled
	}
	return 0, false, errors.Wrapf(errorID, code, cerr, "call %s.%s: not sent", r.Service, r.Endpoint)
}

func selectError(r *Request, err error) error {
	switch {
	case stderrors.Is(err, selector.ErrNotFound):
		return errors.Wrapf(errorID, errors.NotFound, err, "call %s.%s", r.Service, r.Endpoint)
	case stderrors.Is(err, context.DeadlineExceeded):
		return errors.Wrapf(errorID, errors.DeadlineExceeded, err, "call %s.%s: select", r.Service, r.Endpoint)
	case stderrors.Is(err, context.Canceled):
		return errors.Wrapf(errorID, errors.Canceled, err, "call %s.%s: select", r.Service, r.Endpoint)
	}
	return errors.Wrapf(errorID, errors.Unavailable, err, "call %s.%s", r.Service, r.Endpoint)
}
