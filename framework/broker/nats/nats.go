package nats

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/microsim/microsim/framework/broker"
)

// DefaultDrainTimeout bounds how long Close waits for a subscription's
// already received messages to be handled.
const DefaultDrainTimeout = 5 * time.Second

// ErrorHandler hears of handler errors and panics (m is the message) and of
// asynchronous NATS errors such as a slow consumer (m is nil). It runs on
// the subscription's goroutine or on nats.go's callback goroutine and must
// not block for long.
type ErrorHandler func(topic string, m *broker.Message, err error)

// Broker is a broker.Broker on one NATS connection. It is safe for
// concurrent use.
type Broker struct {
	nc           *nats.Conn
	owned        bool
	connClosed   chan struct{} // closed by nats.go's ClosedCB (owned only)
	onError      ErrorHandler
	drainTimeout time.Duration

	mu     sync.Mutex
	closed bool
	subs   map[*subscription]struct{}
	once   sync.Once
}

var _ broker.Broker = (*Broker)(nil)

type options struct {
	natsOpts     []nats.Option
	onError      ErrorHandler
	drainTimeout time.Duration
}

// Option configures New and NewConn.
type Option func(*options) error

// WithNATSOptions passes options to nats.go when New dials (for example
// nats.MaxReconnects, nats.ReconnectWait, nats.ReconnectBufSize, nats.Name,
// credentials). They are applied after the broker's default of reconnecting
// forever. NewConn rejects this option.
func WithNATSOptions(opts ...nats.Option) Option {
	return func(o *options) error {
		o.natsOpts = append(o.natsOpts, opts...)
		return nil
	}
}

// WithErrorHandler sets the hook that hears of handler errors, handler
// panics and asynchronous NATS errors (see ErrorHandler).
func WithErrorHandler(h ErrorHandler) Option {
	return func(o *options) error {
		o.onError = h
		return nil
	}
}

// WithDrainTimeout bounds each drain in Close (DefaultDrainTimeout if not
// given); it is also nats.go's DrainTimeout for a connection New dialled.
func WithDrainTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("nats: drain timeout %v must be positive", d)
		}
		o.drainTimeout = d
		return nil
	}
}

func buildOptions(opts []Option) (options, error) {
	o := options{drainTimeout: DefaultDrainTimeout}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// New dials the NATS server(s) at url (comma-separated URLs allowed) and
// returns a broker that owns the connection: Close drains and closes it.
// It blocks until connected, for at most nats.go's connect Timeout (2s by
// default) or ctx's deadline, whichever is sooner. An unreachable server
// yields an error wrapping broker.ErrUnavailable.
func New(ctx context.Context, url string, opts ...Option) (*Broker, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("nats: connect %s: %w", url, err)
	}
	b := &Broker{owned: true, connClosed: make(chan struct{}), onError: o.onError, drainTimeout: o.drainTimeout,
		subs: make(map[*subscription]struct{})}

	no := nats.GetDefaultOptions()
	no.Url = url
	no.MaxReconnect = -1
	for _, opt := range o.natsOpts {
		if err := opt(&no); err != nil {
			return nil, fmt.Errorf("nats: option: %w", err)
		}
	}
	if dl, ok := ctx.Deadline(); ok {
		no.Timeout = max(min(no.Timeout, time.Until(dl)), time.Millisecond)
	}
	no.DrainTimeout = o.drainTimeout
	userClosed, userAsyncErr := no.ClosedCB, no.AsyncErrorCB
	var closedOnce sync.Once
	no.ClosedCB = func(nc *nats.Conn) {
		if userClosed != nil {
			userClosed(nc)
		}
		closedOnce.Do(func() { close(b.connClosed) })
	}
	no.AsyncErrorCB = func(nc *nats.Conn, s *nats.Subscription, err error) {
		if userAsyncErr != nil {
			userAsyncErr(nc, s, err)
		}
		// A slow consumer is reported by the subscription's own goroutine.
		if s != nil && !errors.Is(err, nats.ErrSlowConsumer) {
			b.report(s.Subject, nil, err)
		}
	}
	nc, err := no.Connect()
	if err != nil {
		if errors.Is(err, nats.ErrAuthorization) {
			return nil, fmt.Errorf("nats: connect %s: %w", url, err)
		}
		return nil, fmt.Errorf("nats: connect %s: %w: %w", url, broker.ErrUnavailable, err)
	}
	b.nc = nc
	return b, nil
}

// NewConn returns a broker on a connection the caller owns: Close closes the
// broker's subscriptions but leaves nc open. It does not block.
func NewConn(nc *nats.Conn, opts ...Option) (*Broker, error) {
	if nc == nil {
		return nil, errors.New("nats: nil connection")
	}
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if len(o.natsOpts) > 0 {
		return nil, errors.New("nats: WithNATSOptions needs New: NewConn's connection is already dialled")
	}
	return &Broker{nc: nc, onError: o.onError, drainTimeout: o.drainTimeout, subs: make(map[*subscription]struct{})}, nil
}

// Conn returns the underlying NATS connection.
func (b *Broker) Conn() *nats.Conn { return b.nc }

// Flush blocks until the server has processed everything published through
// this broker before the call, or ctx is done (a ctx without deadline gets
// the connection's Timeout).
func (b *Broker) Flush(ctx context.Context) error {
	if b.isClosed() {
		return broker.ErrClosed
	}
	ctx, cancel := b.withDeadline(ctx)
	defer cancel()
	if err := b.nc.FlushWithContext(ctx); err != nil {
		return b.mapErr("flush", err)
	}
	return nil
}

// Close closes every subscription made through b, draining them (see the
// package doc), and, if New dialled the connection, flushes pending
// publications and closes it. It blocks until the handlers have returned.
// Idempotent.
func (b *Broker) Close() error {
	b.once.Do(func() {
		b.mu.Lock()
		b.closed = true
		subs := make([]*subscription, 0, len(b.subs))
		for s := range b.subs {
			subs = append(subs, s)
		}
		b.mu.Unlock()
		if !b.owned {
			var wg sync.WaitGroup
			for _, s := range subs {
				wg.Go(func() { _ = s.Close() })
			}
			wg.Wait()
			return
		}
		// Drain removes every interest, waits (up to DrainTimeout) until
		// the subscriptions' received messages were taken, flushes and
		// closes the connection; our goroutines then see it closed.
		if err := b.nc.Drain(); err != nil {
			b.nc.Close()
		}
		<-b.connClosed
		// Let the handlers finish the last messages with a live ctx.
		ctx, cancel := context.WithTimeout(context.Background(), b.drainTimeout)
		defer cancel()
		for _, s := range subs {
			select {
			case <-s.done:
			case <-ctx.Done():
			}
		}
		for _, s := range subs {
			s.stop()
		}
	})
	return nil
}

func (b *Broker) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

func (b *Broker) remove(s *subscription) {
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
}

func (b *Broker) report(topic string, m *broker.Message, err error) {
	if b.onError != nil {
		b.onError(topic, m, err)
	}
}

// withDeadline gives ctx the connection's Timeout if it has no deadline.
func (b *Broker) withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, b.nc.Opts.Timeout)
}

// mapErr classifies a nats.go error for the broker's callers.
func (b *Broker) mapErr(op string, err error) error {
	switch {
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining):
		if b.isClosed() {
			return fmt.Errorf("nats: %s: %w", op, broker.ErrClosed)
		}
		return fmt.Errorf("nats: %s: %w: %w", op, broker.ErrUnavailable, err)
	case errors.Is(err, nats.ErrBadSubject), errors.Is(err, nats.ErrBadQueueName):
		return fmt.Errorf("nats: %s: %w: %w", op, broker.ErrInvalidTopic, err)
	case errors.Is(err, nats.ErrReconnectBufExceeded), errors.Is(err, nats.ErrConnectionReconnecting),
		errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrNoServers), errors.Is(err, nats.ErrInvalidConnection),
		errors.Is(err, context.DeadlineExceeded): // the server did not answer in time
		return fmt.Errorf("nats: %s: %w: %w", op, broker.ErrUnavailable, err)
	}
	return fmt.Errorf("nats: %s: %w", op, err)
}
