package client

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	stderrors "errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"

	"github.com/microsim/microsim/framework/codec"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/transport"
)

// errorID is the ID of errors the client produces itself.
const errorID = "microsim.client"

type rpcClient struct {
	sel    selector.Selector
	tr     transport.Transport
	opts   options
	pool   *pool
	closed atomic.Bool

	call    CallFunc    // the whole call, wrapped
	attempt AttemptFunc // one attempt, wrapped
}

// New returns a client that finds nodes with sel and reaches them over tr.
// It does not block. An invalid option makes it fail with an error naming it.
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
	c.call = c.doCall
	for i := len(o.callWrappers) - 1; i >= 0; i-- {
		c.call = o.callWrappers[i](c.call)
	}
	c.attempt = c.doAttempt
	for i := len(o.attemptWrappers) - 1; i >= 0; i-- {
		c.attempt = o.attemptWrappers[i](c.attempt)
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
	co := CallOptions{ContentType: c.opts.contentType, AttemptTimeout: c.opts.attemptTimeout, Retry: c.opts.retry}
	for _, o := range opts {
		o(&co)
	}
	return co
}

// Call implements Client.
func (c *rpcClient) Call(ctx context.Context, service, endpoint string, req, rsp any, opts ...CallOption) error {
	if c.closed.Load() {
		return errors.Wrapf(errorID, errors.Unavailable, ErrClosed, "call %s.%s", service, endpoint)
	}
	if service == "" || endpoint == "" {
		return errors.New(errorID, errors.BadRequest, "call needs a service and an endpoint, got service %q endpoint %q", service, endpoint)
	}
	co := c.callOptions(opts)
	r := &Request{Service: service, Endpoint: endpoint, ContentType: co.ContentType, Body: req, Idempotent: co.Idempotent, opts: co}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.defaultTimeout)
		defer cancel()
	}
	return c.call(ctx, r, rsp)
}

// doCall is the unwrapped call: encode once, then attempt until success,
// a final error, or the retry policy gives up.
func (c *rpcClient) doCall(ctx context.Context, r *Request, rsp any) error {
	cd, err := c.opts.codecs.Lookup(r.ContentType)
	if err != nil {
		return errors.Wrapf(errorID, errors.BadRequest, err, "call %s.%s", r.Service, r.Endpoint)
	}
	if r.body, err = cd.Marshal(r.Body); err != nil {
		return errors.Wrapf(errorID, errors.BadRequest, err, "encode request for %s.%s", r.Service, r.Endpoint)
	}
	r.codec = cd

	next, err := c.sel.Select(ctx, r.Service, r.opts.SelectOptions...)
	if err != nil {
		return selectError(r, err)
	}
	var lastErr error
	for attempt := 1; ; attempt++ {
		node, err := next()
		if stderrors.Is(err, selector.ErrNoneAvailable) && lastErr != nil {
			// Every node was tried once: start a new round over all of them.
			if next, err = c.sel.Select(ctx, r.Service, r.opts.SelectOptions...); err == nil {
				node, err = next()
			}
		}
		if err != nil {
			if lastErr != nil {
				return lastErr
			}
			return selectError(r, err)
		}
		err = c.runAttempt(ctx, node, r, rsp)
		if err == nil {
			return nil
		}
		lastErr = err
		wait, retry := r.opts.Retry.Retry(ctx, r, attempt, err)
		if !retry {
			return err
		}
		if sleepCtx(ctx, wait) != nil {
			return err
		}
	}
}

// runAttempt bounds one attempt by the per-attempt timeout and reports its
// outcome to the selector (Tracker.Begin/done when it tracks load, else Mark).
func (c *rpcClient) runAttempt(ctx context.Context, node *registry.Node, r *Request, rsp any) error {
	if d := r.opts.AttemptTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	done := c.begin(r.Service, node)
	err := c.attempt(ctx, node.Address, r, rsp)
	done(err)
	return err
}

// begin starts tracking one attempt on node; the returned func ends it.
func (c *rpcClient) begin(service string, node *registry.Node) func(error) {
	if t, ok := c.sel.(selector.Tracker); ok {
		return t.Begin(service, node)
	}
	return func(err error) { c.sel.Mark(service, node, err) }
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
