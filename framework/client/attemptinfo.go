package client

import (
	"context"

	"github.com/microsim/microsim/framework/registry"
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
// wrappers to read it; ctx itself otherwise.
func (c *rpcClient) withAttempt(ctx context.Context, a AttemptInfo) context.Context {
	if len(c.opts.attemptWrappers) == 0 {
		return ctx
	}
	p := new(AttemptInfo) // allocated here, so a itself never escapes
	*p = a
	return context.WithValue(ctx, attemptKey{}, p)
}
