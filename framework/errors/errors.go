package errors

import (
	"context"
	stderrors "errors"
	"fmt"
	"strconv"
	"strings"
)

// Code classifies an error. The zero value is Unknown.
type Code int32

// The codes. Their numeric values are part of the wire protocol and never change.
const (
	// Unknown is an error with no more precise class.
	Unknown Code = 0
	// BadRequest: the request was malformed or could not be decoded.
	BadRequest Code = 1
	// Unauthorized: the caller did not authenticate.
	Unauthorized Code = 2
	// Forbidden: the caller is not allowed to do this.
	Forbidden Code = 3
	// NotFound: the service, endpoint or entity does not exist.
	NotFound Code = 4
	// Conflict: the request conflicts with the current state.
	Conflict Code = 5
	// DeadlineExceeded: the deadline passed before an answer arrived. The
	// request may or may not have been processed.
	DeadlineExceeded Code = 6
	// Canceled: the caller cancelled the call.
	Canceled Code = 7
	// Internal: the handler failed.
	Internal Code = 8
	// NotImplemented: the endpoint exists but does not support the request.
	NotImplemented Code = 9
	// Unavailable: the request was NOT processed (refused connection, request
	// never written, server overloaded or draining). Always safe to retry.
	Unavailable Code = 10
	// Interrupted: the connection failed after the request was sent; the
	// outcome is unknown. Safe to retry only for idempotent calls.
	Interrupted Code = 11
	// ResourceExhausted: a quota or limit other than server concurrency was
	// reached (message too large, budget exhausted).
	ResourceExhausted Code = 12
)

var codeNames = [...]string{
	Unknown:           "unknown",
	BadRequest:        "bad_request",
	Unauthorized:      "unauthorized",
	Forbidden:         "forbidden",
	NotFound:          "not_found",
	Conflict:          "conflict",
	DeadlineExceeded:  "deadline_exceeded",
	Canceled:          "canceled",
	Internal:          "internal",
	NotImplemented:    "not_implemented",
	Unavailable:       "unavailable",
	Interrupted:       "interrupted",
	ResourceExhausted: "resource_exhausted",
}

// String returns the code's snake_case name, or "code(N)" for a code this
// version does not know.
func (c Code) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "code(" + strconv.Itoa(int(c)) + ")"
}

// ParseCode is the inverse of String. It also accepts the decimal value and
// "code(N)", so that a code added by a newer peer survives a round trip.
func ParseCode(s string) (Code, error) {
	for i, n := range codeNames {
		if n == s {
			return Code(i), nil
		}
	}
	num := strings.TrimSuffix(strings.TrimPrefix(s, "code("), ")")
	if n, err := strconv.ParseInt(num, 10, 32); err == nil {
		return Code(n), nil
	}
	return Unknown, fmt.Errorf("errors: unknown code %q", s)
}

// RetryClass says when a failed call may be sent again.
type RetryClass int

const (
	// RetryNever: retrying cannot help or could do harm.
	RetryNever RetryClass = iota
	// RetryIdempotent: the request may have been processed; retry only
	// calls marked idempotent.
	RetryIdempotent
	// RetrySafe: the request was certainly not processed; any call may be retried.
	RetrySafe
)

// Retry reports the retry class of the code.
func (c Code) Retry() RetryClass {
	switch c {
	case Unavailable:
		return RetrySafe
	case DeadlineExceeded, Interrupted:
		return RetryIdempotent
	default:
		return RetryNever
	}
}

// Error is a structured RPC error.
type Error struct {
	// ID names who produced the error, for example "greeter" or "microsim.client".
	ID string
	// Code classifies it.
	Code Code
	// Detail is a human-readable explanation.
	Detail string
	// cause is a local error wrapped by this one. It never crosses the wire.
	cause error
}

// Error formats as "id: code: detail".
func (e *Error) Error() string {
	if e.ID == "" {
		return e.Code.String() + ": " + e.Detail
	}
	return e.ID + ": " + e.Code.String() + ": " + e.Detail
}

// Unwrap returns the local cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is an *Error with the same Code and, when the
// target's ID is not empty, the same ID. This lets callers write
// errors.Is(err, &errors.Error{Code: errors.NotFound}).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return t.Code == e.Code && (t.ID == "" || t.ID == e.ID)
}

// New returns an *Error; detail is formatted with fmt.Sprintf when args are given.
func New(id string, code Code, detail string, args ...any) *Error {
	if len(args) > 0 {
		detail = fmt.Sprintf(detail, args...)
	}
	return &Error{ID: id, Code: code, Detail: detail}
}

// Wrap returns an *Error whose Detail is cause's message and whose Unwrap
// returns cause, so that errors.Is(err, cause) holds locally. Only ID, Code
// and Detail cross the wire.
func Wrap(id string, code Code, cause error) *Error {
	detail := "<nil>"
	if cause != nil {
		detail = cause.Error()
	}
	return &Error{ID: id, Code: code, Detail: detail, cause: cause}
}

// Wrapf is Wrap with a detail of its own that precedes the cause's message.
func Wrapf(id string, code Code, cause error, format string, args ...any) *Error {
	e := Wrap(id, code, cause)
	e.Detail = fmt.Sprintf(format, args...) + ": " + e.Detail
	return e
}

// FromError returns the *Error in err's chain. An error that is not an
// *Error becomes one: context.DeadlineExceeded -> DeadlineExceeded,
// context.Canceled -> Canceled, anything else -> Unknown. FromError(nil) is nil.
func FromError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if stderrors.As(err, &e) {
		return e
	}
	switch {
	case stderrors.Is(err, context.DeadlineExceeded):
		return Wrap("", DeadlineExceeded, err)
	case stderrors.Is(err, context.Canceled):
		return Wrap("", Canceled, err)
	}
	return Wrap("", Unknown, err)
}

// CodeOf returns the Code of err (see FromError); nil has no code and yields Unknown.
func CodeOf(err error) Code {
	if err == nil {
		return Unknown
	}
	return FromError(err).Code
}

// Constructors for the common codes.

// NewBadRequest returns a BadRequest error.
func NewBadRequest(id, format string, args ...any) *Error {
	return New(id, BadRequest, format, args...)
}

// NewNotFound returns a NotFound error.
func NewNotFound(id, format string, args ...any) *Error {
	return New(id, NotFound, format, args...)
}

// NewInternal returns an Internal error.
func NewInternal(id, format string, args ...any) *Error {
	return New(id, Internal, format, args...)
}

// NewUnavailable returns an Unavailable error.
func NewUnavailable(id, format string, args ...any) *Error {
	return New(id, Unavailable, format, args...)
}
