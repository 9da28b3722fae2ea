package service

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/server"
)

// DefaultShutdownTimeout bounds the graceful part of a shutdown.
const DefaultShutdownTimeout = 10 * time.Second

// Option configures a Service. An invalid option makes New fail with an
// error naming it.
type Option func(*options) error

type options struct {
	serverOpts      []server.Option
	clientOpts      []client.Option
	selector        selector.Selector
	broker          broker.Broker
	shutdownTimeout time.Duration
	signals         []os.Signal
	log             *slog.Logger // nil: DefaultLogger()
}

func newOptions(opts []Option) (options, error) {
	o := options{
		shutdownTimeout: DefaultShutdownTimeout,
		signals:         []os.Signal{syscall.SIGINT, syscall.SIGTERM},
	}
	for _, opt := range opts {
		if opt == nil {
			return o, fmt.Errorf("nil option")
		}
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// WithServerOptions passes options to server.New. They are applied after
// the ones the Service derives itself (the broker), so they win.
func WithServerOptions(opts ...server.Option) Option {
	return func(o *options) error {
		o.serverOpts = append(o.serverOpts, opts...)
		return nil
	}
}

// WithClientOptions passes options to client.New. They are applied after
// the ones the Service derives itself (the broker), so they win.
func WithClientOptions(opts ...client.Option) Option {
	return func(o *options) error {
		o.clientOpts = append(o.clientOpts, opts...)
		return nil
	}
}

// WithSelector sets the client's selector (default: selector.New over the
// registry, closed by the Service). A selector given here is not closed.
func WithSelector(s selector.Selector) Option {
	return func(o *options) error {
		if s == nil {
			return fmt.Errorf("WithSelector: nil selector")
		}
		o.selector = s
		return nil
	}
}

// WithBroker gives the broker to both the server (for Subscribe) and the
// client (for Publish). The Service does not close it.
func WithBroker(b broker.Broker) Option {
	return func(o *options) error {
		if b == nil {
			return fmt.Errorf("WithBroker: nil broker")
		}
		o.broker = b
		return nil
	}
}

// WithShutdownTimeout bounds how long Run's shutdown waits for in-flight
// requests (default DefaultShutdownTimeout). It must be positive.
func WithShutdownTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("WithShutdownTimeout: timeout must be positive, got %v", d)
		}
		o.shutdownTimeout = d
		return nil
	}
}

// WithSignals sets the signals that make Run shut down (default SIGINT and
// SIGTERM). With no signal, Run listens for none and ends only with its ctx.
func WithSignals(sigs ...os.Signal) Option {
	return func(o *options) error {
		for i, s := range sigs {
			if s == nil {
				return fmt.Errorf("WithSignals: signal %d is nil", i)
			}
		}
		o.signals = append([]os.Signal(nil), sigs...)
		return nil
	}
}

// WithLogger sets the logger of the service's components (the server's
// lifecycle and failures). Without it the service uses DefaultLogger().
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("WithLogger: nil logger")
		}
		o.log = l
		return nil
	}
}

// DefaultLogger is the logger of a Service built without WithLogger: text
// on stderr at level Info for a service run from a main, and one that
// discards everything inside a test binary (testing.Testing), where a
// test that wants the logs passes its own.
func DefaultLogger() *slog.Logger { return defaultLogger(testing.Testing(), os.Stderr) }

// defaultLogger is DefaultLogger in a test binary or not, writing to w.
func defaultLogger(inTest bool, w io.Writer) *slog.Logger {
	if inTest {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
