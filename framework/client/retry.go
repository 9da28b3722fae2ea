package client

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/errors"
)

// Backoff returns how long to wait before the retry that follows attempt
// (1-based). It must be safe for concurrent use and must not block.
type Backoff func(attempt int) time.Duration

// Default backoff bounds.
const (
	DefaultBackoffBase = 10 * time.Millisecond
	DefaultBackoffCap  = time.Second
)

// ExponentialBackoff returns exponential backoff with full jitter: the wait
// after attempt n is uniform in [0, min(max, base*2^(n-1))). r supplies the
// jitter and is guarded by a mutex of the backoff's own.
func ExponentialBackoff(base, max time.Duration, r *rand.Rand) Backoff {
	var mu sync.Mutex
	return func(attempt int) time.Duration {
		if attempt < 1 {
			attempt = 1
		}
		ceil := base
		for i := 1; i < attempt && ceil < max; i++ {
			ceil *= 2
		}
		if ceil > max {
			ceil = max
		}
		if ceil <= 0 {
			return 0
		}
		mu.Lock()
		d := time.Duration(r.Int64N(int64(ceil)))
		mu.Unlock()
		return d
	}
}

// DefaultPolicy is the default retry policy: at most MaxAttempts attempts;
// retry errors whose code is errors.RetrySafe (the request was not
// processed: refused dial, request never written, Unavailable reply), and
// errors.RetryIdempotent ones (timeout, connection lost after sending) only
// for calls marked idempotent; never retry when the wait would pass the
// call's deadline.
type DefaultPolicy struct {
	MaxAttempts int
	Backoff     Backoff
}

// Retry implements RetryPolicy.
func (p DefaultPolicy) Retry(ctx context.Context, req *Request, attempt int, err error) (time.Duration, bool) {
	if attempt >= p.MaxAttempts || ctx.Err() != nil {
		return 0, false
	}
	switch errors.CodeOf(err).Retry() {
	case errors.RetrySafe:
	case errors.RetryIdempotent:
		if !req.Idempotent {
			return 0, false
		}
	default:
		return 0, false
	}
	var wait time.Duration
	if p.Backoff != nil {
		wait = p.Backoff(attempt)
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= wait {
		return 0, false
	}
	return wait, true
}

// NoRetry is a policy that never retries: WithRetryPolicy(NoRetry{}).
type NoRetry struct{}

// Retry implements RetryPolicy: never.
func (NoRetry) Retry(context.Context, *Request, int, error) (time.Duration, bool) { return 0, false }

// retry runs the retry pipeline after attempt (1-based; hedges included)
// failed with err: the call's RetryPolicy first, then the client's retry
// budget. It reports the backoff before the retry and whether to retry; a
// retry the budget refuses is counted in Stats.RetriesDenied. It does not
// block.
func (c *rpcClient) retry(ctx context.Context, r *Request, attempt int, err error) (time.Duration, bool) {
	wait, ok := r.opts.Retry.Retry(ctx, r, attempt, err)
	if !ok {
		return 0, false
	}
	if c.budget != nil && !c.budget.withdraw() {
		c.stats.retriesDenied.Add(1)
		return 0, false
	}
	c.stats.retries.Add(1)
	return wait, true
}
