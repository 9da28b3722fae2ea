package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Defaults of the options.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultMaxTimeout   = time.Minute
	DefaultMaxBodyBytes = 1 << 20
	DefaultLookupCache  = time.Second
)

// Option configures a Gateway.
type Option func(*options) error

type options struct {
	timeout    time.Duration
	maxTimeout time.Duration
	maxBody    int64
	origins    []string
	log        *slog.Logger
	cache      time.Duration
}

func defaults() options {
	return options{timeout: DefaultTimeout, maxTimeout: DefaultMaxTimeout, maxBody: DefaultMaxBodyBytes, cache: DefaultLookupCache,
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// WithTimeout sets the deadline of a call whose request names none
// (default DefaultTimeout).
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithTimeout(%v): must be positive", ErrInvalidOption, d)
		}
		o.timeout = d
		return nil
	}
}

// WithMaxTimeout caps the deadline a request may ask for (default
// DefaultMaxTimeout).
func WithMaxTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithMaxTimeout(%v): must be positive", ErrInvalidOption, d)
		}
		o.maxTimeout = d
		return nil
	}
}

// WithMaxBodyBytes sets the largest request body accepted (default
// DefaultMaxBodyBytes); larger ones get 413.
func WithMaxBodyBytes(n int64) Option {
	return func(o *options) error {
		if n <= 0 {
			return fmt.Errorf("%w: WithMaxBodyBytes(%d): must be positive", ErrInvalidOption, n)
		}
		o.maxBody = n
		return nil
	}
}

// WithCORS enables CORS for the given origins ("*" allows any): preflight
// OPTIONS requests are answered and replies carry the Access-Control-Allow-*
// headers for an allowed Origin.
func WithCORS(origins ...string) Option {
	return func(o *options) error {
		if len(origins) == 0 {
			return fmt.Errorf("%w: WithCORS(): name at least one origin (or \"*\")", ErrInvalidOption)
		}
		for _, or := range origins {
			if or == "" {
				return fmt.Errorf("%w: WithCORS: empty origin", ErrInvalidOption)
			}
		}
		o.origins = append([]string(nil), origins...)
		return nil
	}
}

// WithLogger sets where the gateway logs failed calls (default: nowhere).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("%w: WithLogger(nil)", ErrInvalidOption)
		}
		o.log = l
		return nil
	}
}

// WithLookupCache sets how long the gateway remembers a service's
// endpoints before it asks the registry again (default DefaultLookupCache;
// 0 asks on every request). A service that is not found is never
// remembered. Which node serves a call is the client's selector's choice,
// from its own view of the registry.
func WithLookupCache(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("%w: WithLookupCache(%v): must not be negative", ErrInvalidOption, d)
		}
		o.cache = d
		return nil
	}
}
