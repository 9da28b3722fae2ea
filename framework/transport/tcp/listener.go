package tcp

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/internal/workpool"
)

// listener accepts TCP connections in its accept goroutine and hands the
// streams their clients open to its Serve.
type listener struct {
	t        *Transport
	nl       net.Listener
	addr     string
	acceptCh chan *stream                           // opened streams waiting for Serve's pool (the backlog)
	handle   atomic.Pointer[func(transport.Socket)] // Serve's function; nil until Serve
	closedCh chan struct{}
	wg       sync.WaitGroup // the accept goroutine
	inlineWG sync.WaitGroup // handle calls made inline by reading goroutines (Add under mu, while not closed)

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

// Serve implements transport.Listener. A stream that opens alone on its
// connection with its first message is served on the connection's reading
// goroutine (roles.go); the others go through the backlog to a pool of
// goroutines (internal/workpool). It returns once the listener is closed
// and every handle call returned.
func (l *listener) Serve(handle func(transport.Socket)) error {
	if !l.handle.CompareAndSwap(nil, &handle) {
		return fmt.Errorf("tcp: serve on %s: already serving", l.addr)
	}
	workpool.Run(func() (transport.Socket, bool) {
		select {
		case <-l.closedCh: // Close refuses what is left in the backlog
			return nil, false
		default:
		}
		select { // a busy server finds a stream waiting
		case s := <-l.acceptCh:
			return s, true
		default:
		}
		select {
		case s := <-l.acceptCh:
			return s, true
		case <-l.closedCh:
			return nil, false
		}
	}, handle)
	l.inlineWG.Wait()
	return l.closedErr()
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

// offer hands a newly opened stream to Serve's pool (through the
// backlog), or refuses it when the listener is closed or its backlog is
// full. It does not block.
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

// serveInline serves s with Serve's function on the calling goroutine, or
// hands it to the backlog when Serve has not started; it refuses s when
// the listener is closed.
func (l *listener) serveInline(s *stream) {
	handle := l.handle.Load()
	if handle == nil {
		l.offer(s)
		return
	}
	l.mu.Lock()
	closed := l.closed
	if !closed {
		l.inlineWG.Add(1)
	}
	l.mu.Unlock()
	if closed {
		s.refuse()
		return
	}
	defer l.inlineWG.Done()
	(*handle)(s)
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
