package tcp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/microsim/microsim/framework/transport"
)

// Transport is the TCP transport. It is safe for concurrent use. Close it
// to end every connection and listener it made.
type Transport struct {
	o    options
	pool bufPool  // write buffers
	msgs msgPools // the memory of received messages, whose lease ended
	// waitChans holds the empty, unreferenced channels (chan struct{},
	// cap 1) that a stream's Recv or Send borrows while it waits.
	waitChans sync.Pool
	watch     watchdog      // roles.go
	closing   chan struct{} // closed by Close
	watchTick time.Duration

	stats counters // limits.go
	// Refusals are logged at a bounded rate (limits.go).
	connsLog, streamsLog, handshakeLog rateLog

	mu        sync.Mutex
	closed    bool
	conns     map[*conn]struct{}
	listeners map[*listener]struct{}
	wg        sync.WaitGroup // the goroutines of every connection
}

var _ transport.Transport = (*Transport)(nil)

// New returns a TCP transport configured by opts. It fails, naming the
// option, when an option is given a bad value.
func New(opts ...Option) (*Transport, error) {
	t := &Transport{
		o:         defaultOptions(),
		conns:     make(map[*conn]struct{}),
		listeners: make(map[*listener]struct{}),
		closing:   make(chan struct{}),
		watchTick: watchTick,
	}
	for _, opt := range opts {
		if err := opt(&t.o); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (t *Transport) closedErr() error {
	return fmt.Errorf("tcp: transport: %w", transport.ErrClosed)
}

// Dial connects to addr (host:port): TCP connect, the TLS handshake when
// configured, then the exchange of prefaces. It blocks until the connection
// is ready, refused (an error wrapping ErrRefused: nobody listens), the dial
// timeout passes or ctx is done (an error wrapping ctx.Err()).
func (t *Transport) Dial(ctx context.Context, addr string) (transport.Conn, error) {
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return nil, t.closedErr()
	}
	dctx := ctx
	if t.o.dialTimeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeoutCause(ctx, t.o.dialTimeout,
			fmt.Errorf("tcp: dial %s: dial timeout of %v: %w", addr, t.o.dialTimeout, context.DeadlineExceeded))
		defer cancel()
	}
	var d net.Dialer
	raw, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, dialError(ctx, dctx, addr, err)
	}
	c := newConn(t, raw, false, nil, addr)
	if err := c.clientHandshake(dctx, addr); err != nil {
		raw.Close()
		return nil, dialError(ctx, dctx, addr, err)
	}
	if !t.track(c) {
		raw.Close()
		return nil, t.closedErr()
	}
	c.start()
	return clientConn{c}, nil
}

// dialError classifies a failed dial: refused, ctx done, or other.
func dialError(ctx, dctx context.Context, addr string, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("tcp: dial %s: %w", addr, ctx.Err())
	case dctx.Err() != nil:
		return context.Cause(dctx)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("tcp: dial %s: %w (%v)", addr, transport.ErrRefused, err)
	}
	return fmt.Errorf("tcp: dial %s: %w", addr, err)
}

// Listen binds addr (host:port; port 0 picks a free port, which Addr then
// reports) and starts accepting connections. It does not block.
func (t *Transport) Listen(addr string) (transport.Listener, error) {
	var lc net.ListenConfig
	nl, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("tcp: listen %s: %w", addr, err)
	}
	l := newListener(t, nl)
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		nl.Close()
		return nil, t.closedErr()
	}
	t.listeners[l] = struct{}{}
	l.wg.Add(1)
	t.mu.Unlock()
	go l.acceptLoop()
	return l, nil
}

// Close closes every listener and connection of the transport (their
// streams fail with ErrClosed or ErrReset) and blocks until all their
// goroutines have exited. Later Dial and Listen fail with ErrClosed.
// Idempotent.
func (t *Transport) Close() error {
	t.mu.Lock()
	if !t.closed {
		close(t.closing)
	}
	t.closed = true
	ls := make([]*listener, 0, len(t.listeners))
	for l := range t.listeners {
		ls = append(ls, l)
	}
	t.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	t.mu.Lock()
	cs := make([]*conn, 0, len(t.conns))
	for c := range t.conns {
		cs = append(cs, c)
	}
	t.mu.Unlock()
	for _, c := range cs {
		c.fail(fmt.Errorf("%w: transport closed", errLocalClose))
	}
	t.wg.Wait()
	return nil
}

// track registers a connection whose goroutines are about to start; false
// when the transport is closed.
func (t *Transport) track(c *conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.conns[c] = struct{}{}
	t.wg.Add(1)
	return true
}

// forget drops a connection whose goroutines are exiting.
func (t *Transport) forget(c *conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	if c.l != nil {
		c.l.forget(c)
	}
}

func (t *Transport) forgetListener(l *listener) {
	t.mu.Lock()
	delete(t.listeners, l)
	t.mu.Unlock()
}

// clientHandshake runs TLS (when configured) and the preface exchange,
// bounded by ctx.
func (c *conn) clientHandshake(ctx context.Context, addr string) error {
	stop := context.AfterFunc(ctx, func() { c.raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if cfg := c.o.clientTLS; cfg != nil {
		if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return err
			}
			cfg = cfg.Clone()
			cfg.ServerName = host
		}
		tc := tls.Client(c.raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("tls handshake: %w", plaintextServerForTLS(err))
		}
		c.rw, c.rawWrite = tc, nil // writes go through TLS: no direct writes
	}
	if err := c.exchangePrefaces(); err != nil {
		return err
	}
	if !stop() {
		return ctx.Err()
	}
	return c.raw.SetDeadline(time.Time{})
}

// serverHandshake runs TLS (when configured) and the preface exchange,
// bounded by the handshake timeout.
func (c *conn) serverHandshake() error {
	c.raw.SetDeadline(time.Now().Add(c.o.handshakeTimeout()))
	if cfg := c.o.serverTLS; cfg != nil {
		tc := tls.Server(c.raw, cfg)
		if err := tc.Handshake(); err != nil {
			return fmt.Errorf("tls handshake: %w", plaintextPeerOnTLS(err))
		}
		c.rw, c.rawWrite = tc, nil // writes go through TLS: no direct writes
	}
	if err := c.exchangePrefaces(); err != nil {
		return err
	}
	return c.raw.SetDeadline(time.Time{})
}
