package tcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/microsim/microsim/framework/transport"
)

// listener accepts TCP connections in its accept goroutine and hands the
// streams their clients open to Accept.
type listener struct {
	t        *Transport
	nl       net.Listener
	addr     string
	acceptCh chan *stream                                // opened streams waiting for Accept (the backlog)
	inline   atomic.Pointer[func(transport.Socket) bool] // ServeInline's function
	closedCh chan struct{}
	wg       sync.WaitGroup // the accept goroutine

	mu     sync.Mutex
	closed bool
	conns  map[*conn]struct{}
}

var _ transport.Listener = (*listener)(nil)

func newListener(t *Transport, nl net.Listener) *listener {
	return &listener{
		t:        t,
		nl:       nl,
		addr:     nl.Addr().String(),
		acceptCh: make(chan *stream, acceptBacklog),
		closedCh: make(chan struct{}),
		conns:    make(map[*conn]struct{}),
	}
}

// Accept returns the next stream a client opened on any connection. It
// blocks until there is one, the listener is closed (ErrClosed) or ctx is done.
func (l *listener) Accept(ctx context.Context) (transport.Socket, error) {
	select {
	case <-l.closedCh:
		return nil, l.closedErr()
	default:
	}
	select { // a busy server finds a stream waiting
	case s := <-l.acceptCh:
		return s, nil
	default:
	}
	select {
	case s := <-l.acceptCh:
		return s, nil
	case <-l.closedCh:
		return nil, l.closedErr()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *listener) closedErr() error {
	return fmt.Errorf("tcp: listener %s: %w", l.addr, transport.ErrClosed)
}

// Addr returns the bound address, e.g. "127.0.0.1:41234".
func (l *listener) Addr() string { return l.addr }

// Close stops accepting and frees the address at once. Streams opened but
// not yet accepted are refused (ErrRefused at the client); streams already
// accepted run to completion, and each connection closes once its last
// accepted stream has finished. It blocks only until the accept goroutine
// has exited: the connections' goroutines belong to the Transport, whose
// Close waits for them. Idempotent.
func (l *listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.closedCh)
	l.mu.Unlock()
	err := l.nl.Close()
	l.wg.Wait()
	for {
		select {
		case s := <-l.acceptCh:
			s.refuse()
			continue
		default:
		}
		break
	}
	l.mu.Lock()
	conns := make([]*conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.drain()
	}
	l.t.forgetListener(l)
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// offer hands a newly opened stream to Accept, or refuses it when the
// listener is closed or its backlog is full. It does not block.
func (l *listener) offer(s *stream) {
	l.mu.Lock()
	if !l.closed {
		select {
		case l.acceptCh <- s:
			l.mu.Unlock()
			return
		default:
			l.t.stats.streamsRefused.Add(1)
			l.t.streamsLog.warn(l.t.o.logger, "tcp: accept backlog full, refusing a stream", "addr", l.addr, "backlog", acceptBacklog)
		}
	}
	l.mu.Unlock()
	s.refuse()
}

var _ transport.InlineServer = (*listener)(nil)

// ServeInline implements transport.InlineServer: a stream that opens
// alone on its connection with its first message is served by serve on
// the connection's reading goroutine (roles.go). nil stops it.
func (l *listener) ServeInline(serve func(transport.Socket) bool) {
	if serve == nil {
		l.inline.Store(nil)
		return
	}
	l.inline.Store(&serve)
}

// serveInline serves s with ServeInline's function, or hands it to
// Accept when there is none any more; it refuses s when the listener is
// closed or the server takes no more streams.
func (l *listener) serveInline(s *stream) {
	serve := l.inline.Load()
	if serve == nil {
		l.offer(s)
		return
	}
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed || !(*serve)(s) {
		s.refuse()
	}
}

// acceptLoop is the accept goroutine: it accepts connections and starts
// each one, which performs its handshake on its own goroutine.
func (l *listener) acceptLoop() {
	defer l.wg.Done()
	var delay time.Duration
	for {
		nc, err := l.nl.Accept()
		if err != nil {
			select {
			case <-l.closedCh:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				l.t.o.logger.Error("tcp: listener failed", "addr", l.addr, "err", err)
				return
			}
			// Out of file descriptors and the like: back off and retry.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			l.t.o.logger.Warn("tcp: accept failed; retrying", "addr", l.addr, "err", err, "in", delay)
			timer := time.NewTimer(delay)
			select {
			case <-timer.C:
			case <-l.closedCh:
				timer.Stop()
				return
			}
			continue
		}
		delay = 0
		c := newConn(l.t, nc, true, l, nc.RemoteAddr().String())
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			nc.Close()
			return
		}
		if n := len(l.conns); n >= l.t.o.maxConns {
			l.mu.Unlock()
			l.t.stats.connsRefused.Add(1) // before the close the client sees
			nc.Close()
			l.t.connsLog.warn(l.t.o.logger, "tcp: connection limit reached, refusing a connection",
				"addr", l.addr, "remote", nc.RemoteAddr().String(), "limit", n)
			continue
		}
		l.conns[c] = struct{}{}
		l.mu.Unlock()
		if !l.t.track(c) {
			l.forget(c)
			nc.Close()
			continue
		}
		c.start()
	}
}

// forget drops an ended connection.
func (l *listener) forget(c *conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}
