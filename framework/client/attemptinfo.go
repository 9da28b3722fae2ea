package client

import (
	"context"
	"fmt"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/internal/ctxwake"
)

// AttemptInfo describes one attempt of a call, for attempt wrappers that
// need more than the node address they are given: a tracer that records
// which attempt went where, and why.
type AttemptInfo struct {
	// Number is the attempt's place in its call, from 1. It counts every
	// attempt sent, hedges included, as the RetryPolicy does.
	Number int
	// Hedge marks a backup request, sent while an earlier attempt of the
	// call was still in flight (see HedgePolicy).
	Hedge bool
	// Node is the node the attempt goes to. It is the selector's: attempt
	// wrappers must not modify it.
	Node *registry.Node
}

// Retry reports whether the attempt is a retry: neither the call's first
// attempt nor a hedge.
func (a AttemptInfo) Retry() bool { return a.Number > 1 && !a.Hedge }

// Attempt kinds, as AttemptInfo.Kind names them.
const (
	AttemptFirst = "first"
	AttemptRetry = "retry"
	AttemptHedge = "hedge"
)

// Kind names the attempt's kind: AttemptFirst, AttemptRetry or
// AttemptHedge.
func (a AttemptInfo) Kind() string {
	switch {
	case a.Hedge:
		return AttemptHedge
	case a.Retry():
		return AttemptRetry
	}
	return AttemptFirst
}

type attemptKey struct{}

// AttemptFromContext returns the AttemptInfo of the attempt whose ctx this
// is. The client puts it in the ctx of attempt wrappers only, so it is
// found in an AttemptWrapper (and below it), and nowhere when the client
// has none: a client without attempt wrappers spends nothing on it.
func AttemptFromContext(ctx context.Context) (AttemptInfo, bool) {
	a, ok := ctx.Value(attemptKey{}).(*AttemptInfo)
	if !ok {
		return AttemptInfo{}, false
	}
	return *a, true
}

// withAttempt returns ctx carrying a, when the client has attempt
// wrappers to read it; ctx itself otherwise. The first attempt of a call
// (r's, claimed once per Request) carries it in a context held by r, so
// that a call whose first attempt succeeds allocates nothing for it; later
// and hedged attempts allocate theirs.
func (c *rpcClient) withAttempt(ctx context.Context, a AttemptInfo, r *Request) context.Context {
	if len(c.opts.attemptWrappers) == 0 {
		return ctx
	}
	var ac *attemptCtx
	if a.Number == 1 && r.firstAttemptClaimed.CompareAndSwap(false, true) {
		ac = &r.firstAttempt
	} else {
		ac = new(attemptCtx)
	}
	ac.Context, ac.info = ctx, a
	return ac
}

// attemptCtx is the context of an attempt, as attempt wrappers see it:
// its parent carrying the attempt's AttemptInfo. Compared with
// context.WithValue it saves two allocations (the value's and the
// context's are one) and it keeps its parent's ctxwake.Waker: a transport's
// wait for the reply under a client's default timeout registers a channel
// with the deadline instead of making the deadline's Done channel.
type attemptCtx struct {
	context.Context
	info AttemptInfo
}

var _ ctxwake.Waker = (*attemptCtx)(nil)

// Value implements context.Context.
func (c *attemptCtx) Value(key any) any {
	if _, ok := key.(attemptKey); ok {
		return &c.info
	}
	return c.Context.Value(key)
}

// WakeOnEnd implements ctxwake.Waker through the parent, when it is one;
// it reports false otherwise (the wait then selects on Done).
func (c *attemptCtx) WakeOnEnd(ch chan struct{}) bool {
	w, ok := c.Context.(ctxwake.Waker)
	return ok && w.WakeOnEnd(ch)
}

// AfterFunc ties f to the parent, as context.AfterFunc(c, f) would tie it
// to c: the context package then registers contexts derived from c (a
// transport's AfterFunc on an attempt's ctx) with the parent instead of
// starting a goroutine that waits on c, which would also read c (the
// Request's own, with WithCallReuse) after the call returned.
func (c *attemptCtx) AfterFunc(f func()) (stop func() bool) {
	return context.AfterFunc(c.Context, f)
}

// StopWake implements ctxwake.Waker.
func (c *attemptCtx) StopWake(ch chan struct{}) {
	if w, ok := c.Context.(ctxwake.Waker); ok {
		w.StopWake(ch)
	}
}

// String describes c as the context package describes its own contexts.
func (c *attemptCtx) String() string {
	return fmt.Sprintf("%v.WithValue(client.AttemptInfo{Number: %d, Hedge: %t})", c.Context, c.info.Number, c.info.Hedge)
}
