// Package errors defines microsim's structured RPC error: an ID naming the
// component that produced it, a Code that says what went wrong and whether a
// call may be retried, and a human-readable Detail.
//
// An *Error crosses the wire as three message headers (see the framework's
// wire protocol), never as JSON stuffed into a string, so a client receives
// exactly the ID, Code and Detail that the server returned and errors.Is /
// errors.As work on it as on any local error.
//
// The package has no state: every function is pure.
package errors
