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
// Errors returned by the client are *errors.Error values (see
// framework/errors); errors.Is matches the underlying transport, selector
// and codec sentinels where there is one.
//
//go:generate go tool mockgen -typed -destination=clientmock/clientmock.go -package=clientmock . Client,Stream
package client
