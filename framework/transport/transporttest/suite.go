package transporttest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
)

// Suite describes the transport under test.
type Suite struct {
	// New returns a fresh world for one subtest: a Transport to listen with,
	// a Transport to dial with (may be the same) and a listen address that
	// picks a free port ("" for memory, "127.0.0.1:0" for TCP). It registers
	// with t.Cleanup whatever must be released afterwards.
	New func(t *testing.T) (listen, dial transport.Transport, addr string)
	// Synctest runs each subtest inside synctest.Test (virtual time); New is
	// then called inside the bubble.
	Synctest bool
	// MaxMessageSize is the limit the transport was built with; 0 skips the
	// size-limit subtest.
	MaxMessageSize int
	// DelayedSends says that a client's Send may queue its message for
	// later delivery and return (a decorator that injects latency): a Send
	// on a stream whose server closed may then succeed, the failure coming
	// with a later Send. The suite does not expect that Send to fail.
	DelayedSends bool
	// Baseline, when set, returns transports as New does for the
	// transport the one under test decorates (the bare memory transport
	// under faults' wrapper, say): the SameCost subtest then checks that a
	// unary round trip through the decorated transport allocates no more
	// than through the bare one.
	Baseline func(t *testing.T) (listen, dial transport.Transport, addr string)
}

// Run runs every subtest of the suite. It blocks until they are done.
func (s Suite) Run(t *testing.T) {
	tests := []struct {
		name string
		f    func(*world)
	}{
		{"UnaryRoundTrip", testUnaryRoundTrip},
		{"Ordering", testOrdering},
		{"MessageCopy", testMessageCopy},
		{"ConcurrentStreams", testConcurrentStreams},
		{"Bidirectional", testBidirectional},
		{"MessageTooLarge", testMessageTooLarge},
		{"CloseSend", testCloseSend},
		{"Close", testClose},
		{"DialRefused", testDialRefused},
		{"ListenerClose", testListenerClose},
		{"UnacceptedRefused", testUnacceptedRefused},
		{"ConnCloseResets", testConnCloseResets},
		{"ContextRecv", testContextRecv},
		{"Serve", testServe},
		{"ContextSend", testContextSend},
		{"ContextDial", testContextDial},
		{"CloseIdempotent", testCloseIdempotent},
		{"RacyClose", testRacyClose},
		{"Addresses", testAddresses},
		{"NotifyRecv", testNotifyRecv},
		{"NewStreamFirst", testNewStreamFirst},
		{"SendClose", testSendClose},
		{"Lease", testLease},
		{"UseAfterClose", testUseAfterClose},
		{"SameCost", testSameCost},
		{"Done", testDone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if s.Synctest {
				synctest.Test(t, func(t *testing.T) { tc.f(s.newWorld(t)) })
				return
			}
			tc.f(s.newWorld(t))
		})
	}
}

// Timeouts. long bounds a whole subtest so a hung implementation fails
// instead of hanging; short is how long "nothing happens" is waited for.
const (
	long  = 20 * time.Second
	short = 50 * time.Millisecond
)

// world is one subtest's transports and helpers.
type world struct {
	t              *testing.T
	s              Suite
	listenT, dialT transport.Transport
	addr           string
	ctx            context.Context // cancelled when the subtest ends
	wg             sync.WaitGroup  // goroutines started with goErr
	acceptors      map[transport.Listener]*Acceptor
}

// accept returns the Acceptor serving l, starting it the first time.
func (w *world) accept(l transport.Listener) *Acceptor {
	if a := w.acceptors[l]; a != nil {
		return a
	}
	if w.acceptors == nil {
		w.acceptors = make(map[transport.Listener]*Acceptor)
	}
	a := NewAcceptor(l)
	w.acceptors[l] = a
	w.t.Cleanup(func() { _ = a.Close() })
	return a
}

func (s Suite) newWorld(t *testing.T) *world {
	require.NotNil(t, s.New, "Suite.New")
	l, d, addr := s.New(t)
	require.NotNil(t, l, "listen transport")
	require.NotNil(t, d, "dial transport")
	ctx, cancel := context.WithTimeout(t.Context(), long)
	w := &world{t: t, s: s, listenT: l, dialT: d, addr: addr, ctx: ctx}
	// Runs before New's cleanups: stop and wait for every test goroutine.
	t.Cleanup(func() {
		cancel()
		w.wg.Wait()
	})
	return w
}

// goErr runs f in a goroutine the world waits for and returns its result.
func (w *world) goErr(f func() error) <-chan error {
	ch := make(chan error, 1)
	w.wg.Go(func() { ch <- f() })
	return ch
}

// settle waits, in a bubble, until every goroutine is blocked, so a call
// started in a goroutine is pending. In real time it does nothing: the
// checks that follow hold whether the call is pending or not yet made.
func (w *world) settle() {
	if w.s.Synctest {
		synctest.Wait()
	}
}

// listen listens on the world's free-port address; the listener is closed
// when the subtest ends.
func (w *world) listen() transport.Listener {
	w.t.Helper()
	l, err := w.listenT.Listen(w.addr)
	require.NoError(w.t, err, "Listen(%q)", w.addr)
	require.NotEmpty(w.t, l.Addr())
	w.t.Cleanup(func() { l.Close() })
	return l
}

// dial connects to l; the connection is closed when the subtest ends.
func (w *world) dial(l transport.Listener) transport.Conn {
	w.t.Helper()
	c, err := w.dialT.Dial(w.ctx, l.Addr())
	require.NoError(w.t, err, "Dial(%q)", l.Addr())
	w.t.Cleanup(func() { c.Close() })
	return c
}

// stream opens a stream on c and accepts it on l.
func (w *world) stream(l transport.Listener, c transport.Conn) (client, server transport.Socket) {
	w.t.Helper()
	client, err := c.NewStream(w.ctx, nil)
	require.NoError(w.t, err, "NewStream")
	w.t.Cleanup(func() { client.Close() })
	server, err = w.accept(l).Accept(w.ctx)
	require.NoError(w.t, err, "Accept")
	w.t.Cleanup(func() { server.Close() })
	return client, server
}

// pair is a listener, a connection to it and one stream on it.
func (w *world) pair() (l transport.Listener, c transport.Conn, client, server transport.Socket) {
	w.t.Helper()
	l = w.listen()
	c = w.dial(l)
	client, server = w.stream(l, c)
	return l, c, client, server
}

// group runs goroutines tracked by a world and joins their errors.
type group struct {
	w    *world
	mu   sync.Mutex
	errs []error
	wg   sync.WaitGroup
}

func (g *group) Go(f func() error) {
	g.wg.Add(1)
	g.w.wg.Go(func() {
		defer g.wg.Done()
		if err := f(); err != nil {
			g.mu.Lock()
			g.errs = append(g.errs, err)
			g.mu.Unlock()
		}
	})
}

// Wait blocks until every goroutine of g returned and joins their errors.
func (g *group) Wait() error {
	g.wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	return errors.Join(g.errs...)
}

// shortCtx is a context that ends after short.
func (w *world) shortCtx() context.Context {
	ctx, cancel := context.WithTimeout(w.ctx, short)
	w.t.Cleanup(cancel)
	return ctx
}
