package server

import (
	"fmt"
	"log/slog"
	"maps"
	"math"
	"time"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/codec"
)

// Defaults.
const (
	// DefaultRegisterTTL is the TTL of the node's registration.
	DefaultRegisterTTL = 30 * time.Second
	// DefaultVersion is the version a server registers without WithVersion.
	DefaultVersion = "latest"
)

// Option configures a server. An invalid option makes New fail with an
// error naming the option.
type Option func(*options) error

type options struct {
	// What every call reads first (server keeps them on its second
	// cache line).
	hWrappers   []HandlerWrapper
	maxInFlight int
	codecs      *codec.Table

	address     string
	id          string
	version     string
	metadata    map[string]string
	ttl         time.Duration
	interval    time.Duration // 0: ttl/3
	broker      broker.Broker
	sWrappers   []SubscriberWrapper
	log         *slog.Logger
	heartbeater *Heartbeater // nil: the server's own
}

func newOptions(opts []Option) (options, error) {
	o := options{version: DefaultVersion, ttl: DefaultRegisterTTL}
	for _, opt := range opts {
		if opt == nil {
			return o, fmt.Errorf("nil option")
		}
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	if o.interval == 0 {
		o.interval = o.ttl / 3
	}
	if o.interval >= o.ttl {
		return o, fmt.Errorf("WithRegisterInterval: interval %v must be shorter than the register TTL %v", o.interval, o.ttl)
	}
	if o.codecs == nil {
		o.codecs = codec.Standard()
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// WithAddress sets the address to listen on (default "": the transport
// picks a free address; for the memory transport that works, a TCP server
// passes "127.0.0.1:0" or a fixed port).
func WithAddress(addr string) Option {
	return func(o *options) error { o.address = addr; return nil }
}

// WithID sets the registered node's ID (default: name + "-" + the listening
// address, which is deterministic for a given address). It must not be empty.
func WithID(id string) Option {
	return func(o *options) error {
		if id == "" {
			return fmt.Errorf("WithID: empty node ID")
		}
		o.id = id
		return nil
	}
}

// WithVersion sets the registered version (default DefaultVersion). It must
// not be empty.
func WithVersion(v string) Option {
	return func(o *options) error {
		if v == "" {
			return fmt.Errorf("WithVersion: empty version")
		}
		o.version = v
		return nil
	}
}

// WithMetadata sets the registered node's metadata; md is copied. Keys must
// not be empty.
func WithMetadata(md map[string]string) Option {
	return func(o *options) error {
		for k := range md {
			if k == "" {
				return fmt.Errorf("WithMetadata: empty key")
			}
		}
		o.metadata = maps.Clone(md)
		return nil
	}
}

// WithRegisterTTL sets the TTL of the node's registration (default
// DefaultRegisterTTL). It must be positive.
func WithRegisterTTL(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("WithRegisterTTL: TTL must be positive, got %v", d)
		}
		o.ttl = d
		return nil
	}
}

// WithRegisterInterval sets how often the node is registered again (default
// a third of the TTL). It must be positive and shorter than the TTL.
func WithRegisterInterval(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("WithRegisterInterval: interval must be positive, got %v", d)
		}
		o.interval = d
		return nil
	}
}

// WithCodecs sets the codec table that decodes requests and encodes
// replies (default codec.Standard()).
func WithCodecs(t *codec.Table) Option {
	return func(o *options) error {
		if t == nil {
			return fmt.Errorf("WithCodecs: nil codec table")
		}
		o.codecs = t
		return nil
	}
}

// WithBroker sets the broker that Subscribe uses. Without it Subscribe fails.
// The server does not close the broker.
func WithBroker(b broker.Broker) Option {
	return func(o *options) error {
		if b == nil {
			return fmt.Errorf("WithBroker: nil broker")
		}
		o.broker = b
		return nil
	}
}

// WithHandlerWrapper adds handler middleware; the first added is outermost.
func WithHandlerWrapper(w ...HandlerWrapper) Option {
	return func(o *options) error {
		for i, fn := range w {
			if fn == nil {
				return fmt.Errorf("WithHandlerWrapper: wrapper %d is nil", i)
			}
		}
		o.hWrappers = append(o.hWrappers, w...)
		return nil
	}
}

// WithSubscriberWrapper adds subscriber middleware; the first added is outermost.
func WithSubscriberWrapper(w ...SubscriberWrapper) Option {
	return func(o *options) error {
		for i, fn := range w {
			if fn == nil {
				return fmt.Errorf("WithSubscriberWrapper: wrapper %d is nil", i)
			}
		}
		o.sWrappers = append(o.sWrappers, w...)
		return nil
	}
}

// WithMaxConcurrent limits the requests (unary calls and streams) served at
// once; 0, the default, means unlimited. A request arriving while n are in
// flight is refused at once, unprocessed, with an errors.Unavailable reply
// "server overloaded", which clients may retry on another node.
func WithMaxConcurrent(n int) Option {
	return func(o *options) error {
		if n < 0 || n > math.MaxInt32 {
			return fmt.Errorf("WithMaxConcurrent: limit must be from 0 to %d, got %d", math.MaxInt32, n)
		}
		o.maxInFlight = n
		return nil
	}
}

// WithLogger sets the logger (default: one that discards everything; the
// global slog default is never used).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("WithLogger: nil logger")
		}
		o.log = l
		return nil
	}
}

// WithHeartbeater makes the server's heartbeat run on h, which may run
// those of many servers (see Heartbeater); default: a Heartbeater of the
// server's own.
func WithHeartbeater(h *Heartbeater) Option {
	return func(o *options) error {
		if h == nil {
			return fmt.Errorf("WithHeartbeater: nil heartbeater")
		}
		o.heartbeater = h
		return nil
	}
}

// HandleOption configures one Handle call.
type HandleOption func(*handleOptions) error

type handleOptions struct {
	name string
}

// HandleName sets the handler's name, the part of its endpoints before the
// dot (default: the handler's type name). It must not be empty or contain a dot.
func HandleName(name string) HandleOption {
	return func(o *handleOptions) error {
		if err := validName(name); err != nil {
			return fmt.Errorf("HandleName: %w", err)
		}
		o.name = name
		return nil
	}
}

// SubscribeOption configures one Subscribe call.
type SubscribeOption func(*subscribeOptions) error

type subscribeOptions struct {
	queue     string
	broadcast bool
}

// SubscribeQueue sets the queue group (default: the service name, so that
// the servers of one service share the events). It must not be empty.
func SubscribeQueue(name string) SubscribeOption {
	return func(o *subscribeOptions) error {
		if name == "" {
			return fmt.Errorf("SubscribeQueue: empty queue name")
		}
		o.queue, o.broadcast = name, false
		return nil
	}
}

// SubscribeBroadcast makes a plain subscription with no queue group: every
// server of the service receives every event.
func SubscribeBroadcast() SubscribeOption {
	return func(o *subscribeOptions) error {
		o.queue, o.broadcast = "", true
		return nil
	}
}
