package client

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/codec"
	"github.com/microsim/microsim/framework/selector"
)

// Defaults.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultMaxAttempts = 3
	DefaultContentType = codec.ContentTypeJSON
	DefaultPoolSize    = 1
)

// Option configures a client. Options that can be invalid make New fail.
type Option func(*options) error

type options struct {
	codecs          *codec.Table
	contentType     string
	broker          broker.Broker
	retry           RetryPolicy
	rng             *rand.Rand
	defaultTimeout  time.Duration
	attemptTimeout  time.Duration
	poolSize        int
	callWrappers    []CallWrapper
	attemptWrappers []AttemptWrapper
	pubWrappers     []PublishWrapper
	streamWrappers  []StreamWrapper
	budget          *RetryBudget // nil: no budget
	hedge           *HedgePolicy // nil: no hedging
	reuseCalls      bool
}

// WithCodecs sets the codec table (default codec.Standard()).
func WithCodecs(t *codec.Table) Option {
	return func(o *options) error {
		if t == nil {
			return fmt.Errorf("client: nil codec table")
		}
		o.codecs = t
		return nil
	}
}

// WithContentType sets the default content type of requests (default JSON).
// It must be in the codec table.
func WithContentType(ct string) Option {
	return func(o *options) error { o.contentType = ct; return nil }
}

// WithBroker sets the broker that Publish uses.
func WithBroker(b broker.Broker) Option {
	return func(o *options) error { o.broker = b; return nil }
}

// WithRetryPolicy replaces the default retry policy.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(o *options) error {
		if p == nil {
			return fmt.Errorf("client: nil retry policy")
		}
		o.retry = p
		return nil
	}
}

// WithRetryBudget bounds the retries and hedges of all the client's calls
// (see RetryBudget; DefaultRetryBudget is a good start). Without it a
// client's retries are bounded only by its retry policies.
func WithRetryBudget(rb RetryBudget) Option {
	return func(o *options) error {
		rb, err := rb.validate()
		if err != nil {
			return err
		}
		o.budget = &rb
		return nil
	}
}

// WithHedging makes the client hedge its calls marked idempotent (see
// HedgePolicy). A policy with MaxHedges 0 disables hedging.
func WithHedging(p HedgePolicy) Option {
	return func(o *options) error {
		if err := p.validate(); err != nil {
			return err
		}
		o.hedge = &p
		return nil
	}
}

// WithRand sets the random source for backoff jitter (default: seeded from
// crypto/rand). Pass a seeded source to make a run reproducible.
func WithRand(r *rand.Rand) Option {
	return func(o *options) error {
		if r == nil {
			return fmt.Errorf("client: nil rand")
		}
		o.rng = r
		return nil
	}
}

// WithDefaultTimeout bounds calls whose ctx has no deadline (default 5s).
func WithDefaultTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("client: default timeout must be positive, got %v", d)
		}
		o.defaultTimeout = d
		return nil
	}
}

// WithAttemptTimeout bounds each attempt (default: none, only the overall deadline).
func WithAttemptTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("client: attempt timeout must not be negative, got %v", d)
		}
		o.attemptTimeout = d
		return nil
	}
}

// WithPoolSize sets how many connections the client keeps per address
// (default 1; each carries many concurrent streams).
func WithPoolSize(n int) Option {
	return func(o *options) error {
		if n <= 0 {
			return fmt.Errorf("client: pool size must be positive, got %d", n)
		}
		o.poolSize = n
		return nil
	}
}

// WithCallReuse lets the client reuse the state of a unary call once Call
// returned (the Request its wrappers see, and the context it makes for a
// caller's ctx without a deadline), so that a call allocates nothing of
// its own up front. The client's call and attempt wrappers, and whatever
// they start, must keep neither a call's *Request nor its ctx (nor the
// AttemptInfo in it) once the call returned: a later call reuses them.
// The client itself reuses a call's state only when nothing of its own
// can still touch it (a timer that fired, a context derived from the
// call's that is still tied to it). The simulator's clients use it.
func WithCallReuse() Option {
	return func(o *options) error {
		o.reuseCalls = true
		return nil
	}
}

// WithCallWrapper adds call middleware; the first added is outermost.
func WithCallWrapper(w ...CallWrapper) Option {
	return func(o *options) error { o.callWrappers = append(o.callWrappers, w...); return nil }
}

// WithAttemptWrapper adds attempt middleware; the first added is outermost.
func WithAttemptWrapper(w ...AttemptWrapper) Option {
	return func(o *options) error { o.attemptWrappers = append(o.attemptWrappers, w...); return nil }
}

// WithStreamWrapper adds stream middleware; the first added is outermost.
func WithStreamWrapper(w ...StreamWrapper) Option {
	return func(o *options) error { o.streamWrappers = append(o.streamWrappers, w...); return nil }
}

// WithPublishWrapper adds publish middleware; the first added is outermost.
func WithPublishWrapper(w ...PublishWrapper) Option {
	return func(o *options) error { o.pubWrappers = append(o.pubWrappers, w...); return nil }
}

// CallOptions are per-call options.
type CallOptions struct {
	ContentType    string
	Idempotent     bool
	AttemptTimeout time.Duration
	// Retry overrides the client's policy for this call. It still passes
	// the client's retry budget.
	Retry RetryPolicy
	// Hedge overrides the client's hedge policy for this call (nil: the
	// client's). Hedging applies only to calls marked idempotent.
	Hedge         *HedgePolicy
	SelectOptions []selector.SelectOption
}

// CallOption sets a CallOptions field.
type CallOption func(*CallOptions)

// WithIdempotent marks the call as safe to run more than once, so timeouts
// and lost connections may be retried.
func WithIdempotent() CallOption { return func(o *CallOptions) { o.Idempotent = true } }

// WithCallContentType sets this call's content type.
func WithCallContentType(ct string) CallOption { return func(o *CallOptions) { o.ContentType = ct } }

// WithCallAttemptTimeout sets this call's per-attempt timeout.
func WithCallAttemptTimeout(d time.Duration) CallOption {
	return func(o *CallOptions) { o.AttemptTimeout = d }
}

// WithCallRetry sets this call's retry policy.
func WithCallRetry(p RetryPolicy) CallOption { return func(o *CallOptions) { o.Retry = p } }

// WithCallHedging sets this call's hedge policy; HedgePolicy{} disables
// hedging for the call. An invalid policy makes the call fail with
// BadRequest. Only calls marked idempotent are hedged.
func WithCallHedging(p HedgePolicy) CallOption { return func(o *CallOptions) { o.Hedge = &p } }

// WithSelectOption passes options to the selector for this call. The
// first one of a call costs no copy: the call uses so itself (capped, so a
// later WithSelectOption appends to a copy), so so must not be modified
// once passed. A CallOption built once and reused makes per-call selector
// options (a hash key, say) free.
func WithSelectOption(so ...selector.SelectOption) CallOption {
	return func(o *CallOptions) {
		if o.SelectOptions == nil {
			o.SelectOptions = so[:len(so):len(so)]
			return
		}
		o.SelectOptions = append(o.SelectOptions, so...)
	}
}

// PublishOptions are per-publish options.
type PublishOptions struct {
	ContentType string
}

// PublishOption sets a PublishOptions field.
type PublishOption func(*PublishOptions)

// WithPublishContentType sets the message's content type.
func WithPublishContentType(ct string) PublishOption {
	return func(o *PublishOptions) { o.ContentType = ct }
}

// RetryPolicy decides whether a failed attempt is tried again. It is the
// first stage of the retry pipeline: a retry it asks for is then put to
// the client's retry budget (WithRetryBudget), which may refuse it.
type RetryPolicy interface {
	// Retry is called after attempt (1-based) failed with err. It reports
	// whether to try again and how long to wait first. It must not block.
	Retry(ctx context.Context, req *Request, attempt int, err error) (wait time.Duration, retry bool)
}

// RetryFunc adapts a function to RetryPolicy.
type RetryFunc func(ctx context.Context, req *Request, attempt int, err error) (time.Duration, bool)

// Retry calls f.
func (f RetryFunc) Retry(ctx context.Context, req *Request, attempt int, err error) (time.Duration, bool) {
	return f(ctx, req, attempt, err)
}
