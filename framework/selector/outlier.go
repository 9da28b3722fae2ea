package selector

import (
	"context"
	stderrors "errors"
	"fmt"
	"time"

	"github.com/microsim/microsim/framework/errors"
)

// Outlier detection defaults (see OutlierConfig).
const (
	DefaultConsecutiveFailures    = 5
	DefaultSuccessRateWindow      = 10 * time.Second
	DefaultSuccessRateMinRequests = 20
	DefaultBaseEjectionTime       = 30 * time.Second
	DefaultMaxEjectionTime        = 300 * time.Second
	DefaultMaxEjectedPercent      = 50
)

// OutlierConfig configures outlier ejection (WithOutlierDetection): the
// default Selector stops choosing a node whose attempts keep failing, for a
// while, then lets it back through a single probe. A zero field takes its
// default.
//
// Only failures that say something about the node count (IsFailure,
// default IsNodeFailure): refused or lost connections, Unavailable,
// Interrupted and DeadlineExceeded. Application errors (a handler's
// Internal, NotFound, BadRequest, Conflict, ...) mean the node answered and
// count as successes; cancellations (the caller gave up, a hedge lost)
// count as nothing.
//
// A node is ejected after ConsecutiveFailures node failures in a row, or
// when, with SuccessRateThreshold set, fewer than that share of its at
// least SuccessRateMinRequests attempts in the current SuccessRateWindow
// succeeded. The n-th ejection of a node lasts BaseEjectionTime*n, capped
// at MaxEjectionTime; the count falls by one for every BaseEjectionTime the
// node then stays healthy. When an ejection ends the node is half-open: the
// next Select whose candidates include it sends it exactly one probe (the
// first attempt of that call; the call's retries go elsewhere), and only a
// successful probe returns it to full traffic. A failed probe ejects it
// again for longer; a probe that is cancelled, or whose outcome has not
// arrived after BaseEjectionTime, is sent again.
//
// At most MaxEjectedPercent of a service's nodes (rounded down) are ejected
// at once; past that, failing nodes stay in rotation. And when the filters
// of a Select leave no healthy node, it uses the ejected ones too (the
// panic threshold: better a doubtful node than none).
type OutlierConfig struct {
	// ConsecutiveFailures: node failures in a row that eject a node
	// (default DefaultConsecutiveFailures; negative: never on this ground).
	ConsecutiveFailures int
	// SuccessRateThreshold in (0, 1]: eject a node whose success rate over
	// the window is below it (zero: never on this ground).
	SuccessRateThreshold float64
	// SuccessRateWindow is the length of the (tumbling) window the success
	// rate is measured over (default DefaultSuccessRateWindow).
	SuccessRateWindow time.Duration
	// SuccessRateMinRequests: attempts in the window before the rate is
	// judged (default DefaultSuccessRateMinRequests).
	SuccessRateMinRequests int
	// BaseEjectionTime is the length of a first ejection (default
	// DefaultBaseEjectionTime).
	BaseEjectionTime time.Duration
	// MaxEjectionTime caps the length of an ejection (default the larger
	// of DefaultMaxEjectionTime and BaseEjectionTime).
	MaxEjectionTime time.Duration
	// MaxEjectedPercent in [1, 100] caps the share of a service's nodes
	// ejected at once (default DefaultMaxEjectedPercent).
	MaxEjectedPercent int
	// IsFailure reports whether an attempt's error counts against the node
	// (default IsNodeFailure). It is never called with nil or with a
	// cancellation. It must be safe for concurrent use and must not block.
	IsFailure func(error) bool
}

// WithOutlierDetection enables outlier ejection with cfg (see
// OutlierConfig; OutlierConfig{} is all defaults). Without it no node is
// ever ejected. It fails on out-of-range values.
func WithOutlierDetection(cfg OutlierConfig) Option {
	return optionFunc(func(c *config) error {
		n, err := cfg.normalized()
		if err != nil {
			return err
		}
		c.outlier = &n
		return nil
	})
}

func (o OutlierConfig) normalized() (OutlierConfig, error) {
	switch {
	case o.SuccessRateThreshold < 0 || o.SuccessRateThreshold > 1:
		return o, fmt.Errorf("selector: success rate threshold must be in [0, 1], got %v", o.SuccessRateThreshold)
	case o.SuccessRateWindow < 0 || o.BaseEjectionTime < 0 || o.MaxEjectionTime < 0:
		return o, fmt.Errorf("selector: outlier detection durations must not be negative")
	case o.SuccessRateMinRequests < 0:
		return o, fmt.Errorf("selector: success rate min requests must not be negative, got %d", o.SuccessRateMinRequests)
	case o.MaxEjectedPercent < 0 || o.MaxEjectedPercent > 100:
		return o, fmt.Errorf("selector: max ejected percent must be in [0, 100], got %d", o.MaxEjectedPercent)
	}
	if o.ConsecutiveFailures == 0 {
		o.ConsecutiveFailures = DefaultConsecutiveFailures
	}
	if o.SuccessRateWindow == 0 {
		o.SuccessRateWindow = DefaultSuccessRateWindow
	}
	if o.SuccessRateMinRequests == 0 {
		o.SuccessRateMinRequests = DefaultSuccessRateMinRequests
	}
	if o.BaseEjectionTime == 0 {
		o.BaseEjectionTime = DefaultBaseEjectionTime
	}
	if o.MaxEjectionTime == 0 {
		o.MaxEjectionTime = max(DefaultMaxEjectionTime, o.BaseEjectionTime)
	}
	if o.MaxEjectionTime < o.BaseEjectionTime {
		return o, fmt.Errorf("selector: max ejection time %v is below the base ejection time %v", o.MaxEjectionTime, o.BaseEjectionTime)
	}
	if o.MaxEjectedPercent == 0 {
		o.MaxEjectedPercent = DefaultMaxEjectedPercent
	}
	if o.IsFailure == nil {
		o.IsFailure = IsNodeFailure
	}
	return o, nil
}

// IsNodeFailure reports whether err, the outcome of an attempt, says the
// node is unwell rather than that the request was: true for the codes
// Unavailable (refused, overloaded, draining), Interrupted (connection lost
// after sending) and DeadlineExceeded, and for errors that carry no
// framework code at all (a client only produces those for transport
// failures; a remote handler's errors always arrive with a code); false for
// nil, cancellations and every other code, application errors included. It
// does not block.
func IsNodeFailure(err error) bool {
	if err == nil || isCancel(err) {
		return false
	}
	var e *errors.Error
	if !stderrors.As(err, &e) {
		return true // local: transport errors, context.DeadlineExceeded
	}
	switch e.Code {
	case errors.Unavailable, errors.Interrupted, errors.DeadlineExceeded:
		return true
	}
	return false
}

// isCancel reports whether err is a cancellation (by code or by context).
func isCancel(err error) bool {
	if err == nil {
		return false
	}
	var e *errors.Error
	if stderrors.As(err, &e) {
		return e.Code == errors.Canceled
	}
	return stderrors.Is(err, context.Canceled)
}

// verdict is what an outcome says about a node.
type verdict uint8

const (
	verdictNone verdict = iota // a cancellation: nothing
	verdictOK                  // success or an application error
	verdictFail                // a node failure
)

func (o *OutlierConfig) judge(err error) verdict {
	switch {
	case err == nil:
		return verdictOK
	case isCancel(err):
		return verdictNone
	case o.IsFailure(err):
		return verdictFail
	}
	return verdictOK
}

// ejectionTime is the length of an ejection with multiplier mult (>= 1).
func (o *OutlierConfig) ejectionTime(mult int) time.Duration {
	if d := o.BaseEjectionTime * time.Duration(mult); d/time.Duration(mult) == o.BaseEjectionTime && d < o.MaxEjectionTime {
		return d
	}
	return o.MaxEjectionTime
}
