package selector

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Defaults of New.
const (
	// DefaultCacheTTL is how long a cached service is served before the next
	// Select refetches it from the registry (the watch keeps it current in
	// between; the TTL is the safety net for a lost event).
	DefaultCacheTTL = time.Minute
	// DefaultMaxServices is how many services the cache holds at most
	// before it evicts the least recently selected.
	DefaultMaxServices = 1024
)

// Watch reconnect backoff and the hold-off after a failed refetch.
const (
	minWatchBackoff = 100 * time.Millisecond
	maxWatchBackoff = 5 * time.Second
	// maxErrorHoldoff bounds how long a stale entry is served without
	// asking the registry again after a refetch failed (capped at the TTL),
	// so a registry outage does not turn every call into a registry call.
	maxErrorHoldoff = time.Second
)

// Option configures New. An Option that is invalid makes New fail.
//
// Besides WithCacheTTL, WithMaxServices, WithOutlierDetection and
// WithRand, the per-call options WithStrategy and
// WithFilter are Options too: given to New they set the selector's default
// strategy and the filters applied to every Select.
type Option interface {
	applyOption(*config) error
}

// config is what New builds from its options.
type config struct {
	strategy    Strategy
	filters     []Filter
	ttl         time.Duration
	maxServices int
	rng         *rand.Rand
	outlier     *OutlierConfig // nil: no outlier detection
}

type optionFunc func(*config) error

func (f optionFunc) applyOption(c *config) error { return f(c) }

// applyOption makes a SelectOption usable as an Option of New: the strategy
// it sets becomes the default, the filters it adds apply to every Select.
func (o SelectOption) applyOption(c *config) error {
	if o == nil {
		return errors.New("selector: nil option")
	}
	so := SelectOptions{Strategy: c.strategy}
	o(&so)
	if so.Strategy == nil {
		return errors.New("selector: nil strategy")
	}
	if so.HashKey != "" {
		return errors.New("selector: WithHashKey is a per-call option")
	}
	for _, f := range so.Filters {
		if f == nil {
			return errors.New("selector: nil filter")
		}
	}
	c.strategy = so.Strategy
	c.filters = append(c.filters, so.Filters...)
	return nil
}

// WithCacheTTL sets how old a cached service may get before the next Select
// refetches it (default DefaultCacheTTL). It must be positive.
func WithCacheTTL(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("selector: cache TTL must be positive, got %v", d)
		}
		c.ttl = d
		return nil
	})
}

// WithMaxServices bounds the cache to n services (default
// DefaultMaxServices): when a fetch adds one past the bound, the service
// selected least recently is dropped, with its node counters and outlier
// state, and is fetched again on its next Select. n must be positive.
func WithMaxServices(n int) Option {
	return optionFunc(func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("selector: max services must be positive, got %d", n)
		}
		c.maxServices = n
		return nil
	})
}

// WithRand sets the source of the selector's own randomness (the jitter of
// its watch reconnect backoff). The selector uses r only from its watch
// goroutine, so r must not be shared with anything else. The default is a
// PCG seeded from crypto/rand: pass a seeded one to reproduce a run.
// Strategies take their own source (see Random).
func WithRand(r *rand.Rand) Option {
	return optionFunc(func(c *config) error {
		if r == nil {
			return errors.New("selector: nil rand")
		}
		c.rng = r
		return nil
	})
}

// newConfig applies opts over the defaults.
func newConfig(opts []Option) (config, error) {
	c := config{strategy: RoundRobin(), ttl: DefaultCacheTTL, maxServices: DefaultMaxServices}
	for _, o := range opts {
		if o == nil {
			return config{}, errors.New("selector: nil option")
		}
		if err := o.applyOption(&c); err != nil {
			return config{}, err
		}
	}
	if c.rng == nil {
		c.rng = cryptoSeeded()
	}
	return c, nil
}

// cryptoSeeded returns a PCG seeded from crypto/rand.
func cryptoSeeded() *rand.Rand {
	var b [16]byte
	_, _ = crand.Read(b[:]) // never fails (Go 1.24+)
	return rand.New(rand.NewPCG(binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])))
}

// errorHoldoff is how long a stale entry is served after a failed refetch.
func (c *config) errorHoldoff() time.Duration { return min(c.ttl, maxErrorHoldoff) }
