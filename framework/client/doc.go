// Package client makes calls to services: unary Call, bidirectional Stream,
// and Publish of events through a broker.
//
// A call runs through the call wrappers, then, once per attempt, asks the
// selector for a node, takes a connection to it from the pool, encodes the
// request with the codec for its content type, sends it, and decodes the
// reply. Mark reports each attempt's outcome to the selector. The retry
// policy then decides whether to try again (on another node, after a
// backoff).
//
// Deadlines: the call's overall deadline is the ctx deadline (or the
// client's default timeout when ctx has none); an optional per-attempt
// timeout bounds each attempt, never beyond the overall deadline. The
// remaining deadline travels to the server with the request.
//
// Retries: the default policy retries only failures that cannot have been
// processed by a server — a refused dial, a request never written, an
// explicit Unavailable reply — and, for calls marked idempotent, timeouts and
// connections lost after sending. It never re-runs a timed-out call that was
// not marked idempotent. Backoff is exponential with full jitter.
//
// Deadlines also stop attempts: an attempt whose deadline has already
// passed (or whose ctx has ended) is not sent; the call ends with the
// client's own DeadlineExceeded (or Canceled) error and the selector hears
// of no attempt.
//
// Retry budget (WithRetryBudget): retries and hedges of all the client's
// calls together stay within a ratio of the calls plus a minimum per
// second, over a sliding window; the budget is applied after the retry
// policy, so custom policies are bounded by it too. See RetryBudget.
//
// Hedging (WithHedging, WithCallHedging): a call marked idempotent that
// has not answered after a delay (fixed, or a percentile of recent
// latencies) is sent to another node as well; the first success wins and
// the other attempts are cancelled and reported to the selector as
// Canceled. See HedgePolicy.
//
// Middleware: call wrappers (WithCallWrapper) wrap a whole call, attempt
// wrappers (WithAttemptWrapper) each attempt, whose ctx tells them which
// one it is (AttemptFromContext: its number, whether it is a retry or a
// hedge, its node), and publish wrappers (WithPublishWrapper) each
// Publish. A client with no attempt wrapper puts nothing in the attempt's
// ctx. The observe packages (tracing, metrics) are such wrappers.
//
// The client counts calls, attempts, retries and hedges (StatsReporter)
// with atomic counters, and passes on its selector's per-node counters.
//
// The hot path allocates little: the request message and its header map
// come from a pool (the transport copies what it sends), a codec that is a
// codec.Appender encodes into a pooled buffer, the stream is opened with
// the request in one step (Conn.NewStream with a first message), and the
// reply, lent by the transport until the attempt closes its socket, is
// decoded with the codec's copying Unmarshal (errors decoded from its
// header keep its strings, which are the client's). A call's Request and
// its default-timeout ctx are one allocation; with WithCallReuse (for
// wrappers that keep neither once the call returned, as the simulator's)
// the client reuses them for a later call once nothing can touch them any
// more, and a call allocates nothing of its own up front.
//
// Errors returned by the client are *errors.Error values (see
// framework/errors); errors.Is matches the underlying transport, selector
// and codec sentinels where there is one.
//
//go:generate go tool mockgen -typed -destination=clientmock/clientmock.go -package=clientmock . Client,Stream
package client
