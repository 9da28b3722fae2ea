package faults

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors.
var (
	// ErrInvalid: a fault spec was refused when it was built. The error is
	// a *SpecError that names the field.
	ErrInvalid = errors.New("faults: invalid fault")
	// ErrExists: a fault or node of that name was already added.
	ErrExists = errors.New("faults: name already in use")
	// ErrClosed: the injector was closed.
	ErrClosed = errors.New("faults: injector closed")
	// ErrNoControl: a node fault needs a NodeControl that its node lacks.
	ErrNoControl = errors.New("faults: node has no control")
)

// SpecError is a fault spec refused when it was built: which fault, which
// field (dotted, as in "latency.median" or "from.service") and why. It
// wraps ErrInvalid.
type SpecError struct {
	Kind  string // link, rpc, node, registry or broker
	Fault string // the fault's name
	Field string // the field at fault
	Msg   string // what is wrong with it
}

// Error formats as `faults: link "slow-db": latency.median: must be >= 0, got -5ms`.
func (e *SpecError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("faults: %s %q: %s", e.Kind, e.Fault, e.Msg)
	}
	return fmt.Sprintf("faults: %s %q: %s: %s", e.Kind, e.Fault, e.Field, e.Msg)
}

// Unwrap returns ErrInvalid.
func (e *SpecError) Unwrap() error { return ErrInvalid }

// check collects the first problem found while validating one spec.
type check struct {
	kind, name string
	err        *SpecError
}

// failf records a problem with field unless one was recorded already.
func (c *check) failf(field, format string, args ...any) {
	if c.err == nil {
		c.err = &SpecError{Kind: c.kind, Fault: c.name, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
}

// result returns the recorded problem as an error, or nil.
func (c *check) result() error {
	if c.err == nil {
		return nil
	}
	return c.err
}

// prob checks that p is a probability.
func (c *check) prob(field string, p float64) {
	if !(p >= 0 && p <= 1) { // also refuses NaN
		c.failf(field, "must be in [0, 1], got %v", p)
	}
}

// nonNeg checks that d is not negative.
func (c *check) nonNeg(field string, d time.Duration) {
	if d < 0 {
		c.failf(field, "must be >= 0, got %v", d)
	}
}

// positive checks that d is positive.
func (c *check) positive(field string, d time.Duration) {
	if d <= 0 {
		c.failf(field, "must be > 0, got %v", d)
	}
}

// join prefixes a field path.
func join(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + "." + field
}
