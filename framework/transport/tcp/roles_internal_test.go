package tcp

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
)

// bound is how long a test here waits before it calls a hang a failure.
const bound = 10 * time.Second

// inlineEcho listens and serves every stream served inline (on the
// connection's reading goroutine) with serve; the streams Serve hands to
// its pool are echoed by echoOnce. It returns the listener's address.
func inlineEcho(t *testing.T, tr *Transport, serve func(transport.Socket) bool) string {
	t.Helper()
	l, err := tr.Listen("127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = l.Serve(func(s transport.Socket) {
			if servedInline(s) {
				serve(s)
				return
			}
			echoOnce(ctx, s)
		})
	}()
	t.Cleanup(func() {
		cancel()
		l.Close()
		<-done
	})
	return l.Addr()
}

// servedInline reports whether s, a server stream handed to Serve's
// function that has not waited on its connection yet, is served on the
// connection's reading goroutine.
func servedInline(s transport.Socket) bool {
	c := s.(*stream).c
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.inlineOn
}

// echoOnce answers a stream's first message with itself and closes it.
func echoOnce(ctx context.Context, s transport.Socket) bool {
	defer s.Close()
	m, err := s.Recv(ctx)
	if err == nil {
		_ = s.SendClose(ctx, m)
	}
	return true
}

func newTestTransport(t *testing.T) *Transport {
	tr, err := New()
	require.NoError(t, err)
	t.Cleanup(func() { tr.Close() })
	return tr
}

// dialBounded dials addr with a ctx that ends after bound (and with the
// test); the connection is closed when the test ends.
func dialBounded(t *testing.T, tr *Transport, addr string) (context.Context, transport.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	t.Cleanup(cancel)
	cc, err := tr.Dial(ctx, addr)
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return ctx, cc
}

// unary sends body on a new stream of cc and returns the reply's body.
func unary(ctx context.Context, cc transport.Conn, body string) (string, error) {
	s, err := cc.NewStream(ctx, &transport.Message{Body: []byte(body)})
	if s != nil {
		defer s.Close()
	}
	if err != nil {
		return "", err
	}
	m, err := s.Recv(ctx)
	if err != nil {
		return "", err
	}
	return string(m.Body), nil
}

// TestLoneCallsHandNothingOver: calls made one at a time on a connection
// pass from no goroutine to another. Each request is served inline on the
// server's reading goroutine, each reply is read by the Recv that waits for
// it, and neither side's writer goroutine writes anything: senders write
// directly. (Only the first reply comes through the client's reader
// goroutine, which reads a new connection until it has delivered
// something.)
//
// The watchdog is slowed down to an hour here: it would otherwise, on a
// busy machine, rightly hand the client connection to its reader goroutine
// when a pause between two calls lasts a tick, or take the server's reading
// over from a call that lasts one.
func TestLoneCallsHandNothingOver(t *testing.T) {
	tr := newTestTransport(t)
	tr.watchTick = time.Hour // before the first connection starts the watchdog
	var mu sync.Mutex
	var served []*conn
	addr := inlineEcho(t, tr, func(s transport.Socket) bool {
		mu.Lock()
		served = append(served, s.(*stream).c)
		mu.Unlock()
		return echoOnce(context.Background(), s)
	})
	ctx, cc := dialBounded(t, tr, addr)
	c := cc.(clientConn).c

	const calls = 200
	for i := range calls {
		got, err := unary(ctx, cc, "ping")
		require.NoError(t, err, "call %d", i)
		require.Equal(t, "ping", got)
	}
	mu.Lock()
	require.Len(t, served, calls, "every call is served inline")
	sc := served[0]
	for _, c := range served {
		require.Same(t, sc, c, "one server connection")
	}
	mu.Unlock()
	require.Equal(t, uint64(calls-1), c.leads, "Recvs that read their own reply")
	sc.rmu.Lock()
	inlined, takeovers := sc.inlineSeq, sc.readerGen
	sc.rmu.Unlock()
	require.Equal(t, uint64(calls), inlined)
	require.Zero(t, takeovers, "goroutines that took the server's reading over")
	require.Zero(t, c.wseq.Load(), "writes by the client's writer goroutine")
	require.Zero(t, sc.wseq.Load(), "writes by the server's writer goroutine")
}

// TestInlineCallBlockedOnAnotherStream: an inline call that waits for
// another call on its own connection does not deadlock it: the watchdog
// starts a goroutine that reads the connection on, which hands the second
// stream to Serve's pool.
func TestInlineCallBlockedOnAnotherStream(t *testing.T) {
	tr := newTestTransport(t)
	second := make(chan struct{})
	var inline []string
	var mu sync.Mutex
	addr := inlineEcho(t, tr, func(s transport.Socket) bool {
		defer s.Close()
		ctx := context.Background()
		m, err := s.Recv(ctx)
		if err != nil {
			return true
		}
		mu.Lock()
		inline = append(inline, string(m.Body))
		mu.Unlock()
		if string(m.Body) == "first" {
			<-second // the second call's reply came back
		}
		_ = s.SendClose(ctx, m)
		return true
	})
	ctx, cc := dialBounded(t, tr, addr)

	firstDone := make(chan error, 1)
	go func() {
		got, err := unary(ctx, cc, "first")
		if err == nil && got != "first" {
			err = errors.New("first: wrong reply " + got)
		}
		firstDone <- err
	}()
	// Wait until the first call is being served inline.
	for {
		mu.Lock()
		n := len(inline)
		mu.Unlock()
		if n == 1 {
			break
		}
		require.NoError(t, ctx.Err(), "the first call never reached the server")
		time.Sleep(time.Millisecond)
	}
	got, err := unary(ctx, cc, "second")
	require.NoError(t, err, "the second call, behind a blocked inline call")
	require.Equal(t, "second", got)
	close(second)
	require.NoError(t, <-firstDone)
	mu.Lock()
	require.Equal(t, []string{"first"}, inline, "the second call went to Serve's pool")
	mu.Unlock()
}

// TestInlineStreamWaitTakesOver: an inline call that waits for a second
// message on its stream (a streaming handler) has reading taken over at
// once, so the message reaches it.
func TestInlineStreamWaitTakesOver(t *testing.T) {
	tr := newTestTransport(t)
	conns := make(chan *conn, 1)
	first := make(chan struct{})
	addr := inlineEcho(t, tr, func(s transport.Socket) bool {
		defer s.Close()
		ctx := context.Background()
		var body []byte
		for i := range 2 {
			m, err := s.Recv(ctx)
			if err != nil {
				return true
			}
			body = append(body, m.Body...)
			if i == 0 {
				close(first) // the second message is sent only now
			}
		}
		conns <- s.(*stream).c
		_ = s.SendClose(ctx, &transport.Message{Body: body})
		return true
	})
	ctx, cc := dialBounded(t, tr, addr)
	s, err := cc.NewStream(ctx, &transport.Message{Body: []byte("a")})
	require.NoError(t, err)
	defer s.Close()
	<-first
	require.NoError(t, s.Send(ctx, &transport.Message{Body: []byte("b")}))
	m, err := s.Recv(ctx)
	require.NoError(t, err)
	require.Equal(t, "ab", string(m.Body))
	sc := <-conns
	sc.rmu.Lock()
	takeovers := sc.readerGen
	sc.rmu.Unlock()
	require.Equal(t, uint64(1), takeovers, "goroutines that took reading over")
}

// TestLeadingRecvCancelled: a Recv reading the connection for itself
// returns when its ctx is cancelled (the watchdog interrupts its read),
// and the connection carries the next call.
func TestLeadingRecvCancelled(t *testing.T) {
	tr := newTestTransport(t)
	release := make(chan struct{})
	addr := inlineEcho(t, tr, func(s transport.Socket) bool {
		defer s.Close()
		m, err := s.Recv(context.Background())
		if err != nil {
			return true
		}
		if string(m.Body) == "hang" {
			<-release
			return true
		}
		_ = s.SendClose(context.Background(), m)
		return true
	})
	defer close(release)
	ctx, cc := dialBounded(t, tr, addr)
	c := cc.(clientConn).c
	// A first call, so that the reader goroutine has given the role up.
	_, err := unary(ctx, cc, "warm")
	require.NoError(t, err)

	cctx, ccancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := unary(cctx, cc, "hang")
		errc <- err
	}()
	for { // until the Recv leads
		c.rmu.Lock()
		leading := c.role == roleLeader
		c.rmu.Unlock()
		if leading {
			break
		}
		require.NoError(t, ctx.Err(), "the Recv never read for itself")
		time.Sleep(time.Millisecond)
	}
	ccancel()
	select {
	case err := <-errc:
		require.ErrorIs(t, err, context.Canceled)
	case <-ctx.Done():
		t.Fatal("a cancelled Recv that was reading the connection did not return")
	}
	got, err := unary(ctx, cc, "after")
	require.NoError(t, err, "the connection after the cancelled Recv")
	require.Equal(t, "after", got)
}
