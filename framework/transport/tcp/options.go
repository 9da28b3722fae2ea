package tcp

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/microsim/microsim/framework/transport"
)

// Defaults of the options.
const (
	DefaultDialTimeout      = 10 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultReadTimeout      = 60 * time.Second
	DefaultWriteTimeout     = 30 * time.Second
	DefaultIdleTimeout      = 90 * time.Second
	DefaultStreamWindow     = 32
	// DefaultMinReadRate is the slowest a peer may deliver a frame it
	// has begun, in bytes per second (WithMinReadRate).
	DefaultMinReadRate = 4 << 10
	// DefaultMaxConns is the most connections a listener serves at once.
	DefaultMaxConns = 10_000
	// DefaultMaxStreams is the most streams a client may have open at
	// once on one server connection.
	DefaultMaxStreams = 1024

	// MaxStreamWindow is the largest value WithStreamWindow accepts.
	MaxStreamWindow = 1 << 16
	// MaxMessageSizeLimit is the largest value WithMaxMessageSize accepts.
	MaxMessageSizeLimit = 1 << 30
)

// acceptBacklog is how many opened streams a listener holds for Accept;
// streams beyond it are refused (ErrRefused at the client).
const acceptBacklog = 4096

// lingerTimeout bounds how long a connection that closes gracefully waits
// for its peer to close its side after the last frame was sent.
const lingerTimeout = 2 * time.Second

// An Option configures a Transport. Options that can be given a bad value
// make New fail with an error naming the option.
type Option func(*options) error

type options struct {
	maxMsg       int
	clientTLS    *tls.Config
	serverTLS    *tls.Config
	dialTimeout  time.Duration
	readTimeout  time.Duration
	writeTimeout time.Duration
	idleTimeout  time.Duration
	hsTimeout    time.Duration
	minReadRate  int
	maxConns     int
	maxStreams   int
	window       int
	logger       *slog.Logger
}

func defaultOptions() options {
	return options{
		maxMsg:       transport.DefaultMaxMessageSize,
		dialTimeout:  DefaultDialTimeout,
		readTimeout:  DefaultReadTimeout,
		writeTimeout: DefaultWriteTimeout,
		idleTimeout:  DefaultIdleTimeout,
		hsTimeout:    DefaultHandshakeTimeout,
		minReadRate:  DefaultMinReadRate,
		maxConns:     DefaultMaxConns,
		maxStreams:   DefaultMaxStreams,
		window:       DefaultStreamWindow,
		logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// WithMaxMessageSize sets the largest Message (Message.Size: body plus
// headers) this transport sends or accepts; default
// transport.DefaultMaxMessageSize. Each side tells the other its limit when
// a connection opens, and Send enforces the smaller of the two. n must be in
// [1, MaxMessageSizeLimit].
func WithMaxMessageSize(n int) Option {
	return func(o *options) error {
		if n < 1 || n > MaxMessageSizeLimit {
			return fmt.Errorf("tcp: WithMaxMessageSize(%d): want 1..%d", n, MaxMessageSizeLimit)
		}
		o.maxMsg = n
		return nil
	}
}

// WithTLS makes Dial use client (when non-nil) and Listen use server (when
// non-nil). Both configs are cloned. When client.ServerName is empty, Dial
// sets it to the host of the dialled address. For mutual TLS set
// server.ClientAuth and client.Certificates.
func WithTLS(client, server *tls.Config) Option {
	return func(o *options) error {
		if client == nil && server == nil {
			return fmt.Errorf("tcp: WithTLS: both configs are nil")
		}
		if server != nil && len(server.Certificates) == 0 && server.GetCertificate == nil && server.GetConfigForClient == nil {
			return fmt.Errorf("tcp: WithTLS: the server config has no certificate")
		}
		if client != nil {
			o.clientTLS = client.Clone()
		}
		if server != nil {
			o.serverTLS = server.Clone()
		}
		return nil
	}
}

// WithDialTimeout bounds Dial (TCP connect, TLS handshake and the exchange
// of prefaces); default DefaultDialTimeout, 0 means only the ctx bounds it.
// On the server side it also bounds the handshake when the handshake and
// read timeouts are 0.
func WithDialTimeout(d time.Duration) Option {
	return durationOption("WithDialTimeout", d, func(o *options) { o.dialTimeout = d })
}

// WithReadTimeout ends a connection that has open streams (or a frame half
// read) and delivers no bytes for longer than d; default DefaultReadTimeout,
// 0 disables it. After d/2 of silence the connection sends a PING, which a
// live peer answers, so slow handlers never trip it. It also bounds the
// server-side handshake (with the handshake timeout, the smaller wins) and
// sets how long a frame may be below the minimum read rate
// (WithMinReadRate): d/2.
func WithReadTimeout(d time.Duration) Option {
	return durationOption("WithReadTimeout", d, func(o *options) { o.readTimeout = d })
}

// WithHandshakeTimeout bounds a server-side handshake (TLS and the
// client's preface): a connection that has not completed it within d (or
// the read timeout, when that is smaller) is closed; default
// DefaultHandshakeTimeout; with 0 the read timeout bounds it, or else the
// dial timeout.
func WithHandshakeTimeout(d time.Duration) Option {
	return durationOption("WithHandshakeTimeout", d, func(o *options) { o.hsTimeout = d })
}

// WithMinReadRate ends a connection that delivers a frame it has begun
// at fewer than n bytes per second: a peer that announces a large frame
// and trickles it is dropped once the frame has been under way for half
// the read timeout (checked at the reader's ticks), whatever the frame's
// size; default DefaultMinReadRate, 0 disables it (it needs a read
// timeout).
func WithMinReadRate(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("tcp: WithMinReadRate(%d): negative rate", n)
		}
		o.minReadRate = n
		return nil
	}
}

// WithMaxConns sets the most connections one listener serves at once;
// a connection beyond it is closed as soon as it is accepted (counted in
// Stats.ConnsRefused); default DefaultMaxConns, valid 1 and above.
func WithMaxConns(n int) Option {
	return countOption("WithMaxConns", n, func(o *options) { o.maxConns = n })
}

// WithMaxStreams sets the most streams a client may have open at once on
// one server connection (served or waiting to be, until they
// finish); a stream beyond it is refused (ErrRefused at the client,
// counted in Stats.StreamsRefused); default DefaultMaxStreams, valid 1
// and above.
func WithMaxStreams(n int) Option {
	return countOption("WithMaxStreams", n, func(o *options) { o.maxStreams = n })
}

// WithWriteTimeout ends a connection whose pending writes cannot complete
// within d (a peer that stopped reading); default DefaultWriteTimeout, 0
// disables it.
func WithWriteTimeout(d time.Duration) Option {
	return durationOption("WithWriteTimeout", d, func(o *options) { o.writeTimeout = d })
}

// WithIdleTimeout closes a connection that has had no open stream for d;
// default DefaultIdleTimeout, 0 disables it. A server closes gracefully
// (GOAWAY): a stream the client opens meanwhile fails with ErrRefused.
func WithIdleTimeout(d time.Duration) Option {
	return durationOption("WithIdleTimeout", d, func(o *options) { o.idleTimeout = d })
}

// WithStreamWindow sets how many received messages one stream buffers before
// its sender blocks in Send (flow control; see the package documentation);
// default DefaultStreamWindow, valid 1..MaxStreamWindow.
func WithStreamWindow(n int) Option {
	return func(o *options) error {
		if n < 1 || n > MaxStreamWindow {
			return fmt.Errorf("tcp: WithStreamWindow(%d): want 1..%d", n, MaxStreamWindow)
		}
		o.window = n
		return nil
	}
}

// WithLogger sets the logger for connection-level events (a connection
// closed because of a protocol error, a timeout, a failed handshake);
// default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("tcp: WithLogger: nil logger")
		}
		o.logger = l
		return nil
	}
}

// countOption is an option taking a count of at least 1.
func countOption(name string, n int, set func(*options)) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("tcp: %s(%d): want at least 1", name, n)
		}
		set(o)
		return nil
	}
}

func durationOption(name string, d time.Duration, set func(*options)) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("tcp: %s(%v): negative duration", name, d)
		}
		set(o)
		return nil
	}
}

// handshakeTimeout bounds a server-side handshake.
func (o *options) handshakeTimeout() time.Duration {
	switch {
	case o.hsTimeout > 0 && o.readTimeout > 0:
		return min(o.hsTimeout, o.readTimeout)
	case o.hsTimeout > 0:
		return o.hsTimeout
	case o.readTimeout > 0:
		return o.readTimeout
	case o.dialTimeout > 0:
		return o.dialTimeout
	}
	return DefaultDialTimeout
}

// tick is how often an otherwise silent connection's reader wakes up to
// check the read and idle timeouts (0: never).
func (o *options) tick() time.Duration {
	t := time.Duration(0)
	for _, d := range []time.Duration{o.readTimeout / 4, o.writeTimeout / 4, o.idleTimeout / 4} {
		if d > 0 && (t == 0 || d < t) {
			t = d
		}
	}
	if t > 0 && t < time.Millisecond {
		t = time.Millisecond
	}
	return t
}
