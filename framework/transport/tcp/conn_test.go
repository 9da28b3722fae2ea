package tcp_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/tcp"
	"github.com/microsim/microsim/framework/transport/transporttest"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// TestManyConcurrentStreams: 64 goroutines x 200 calls on one connection,
// every reply intact (run with -race).
func TestManyConcurrentStreams(t *testing.T) {
	tr := newTransport(t)
	l := echoServer(t, tr)
	ctx := testCtx(t)
	c, err := tr.Dial(ctx, l.Addr())
	require.NoError(t, err)
	defer c.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 64 {
		wg.Go(func() {
			for i := range 200 {
				body := []byte(strings.Repeat(fmt.Sprintf("%d.%d|", g, i), 1+(g*i)%300))
				if err := call(ctx, c, body); err != nil {
					errs <- fmt.Errorf("goroutine %d call %d: %w", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestIdleTimeout: a client connection with no stream closes itself after
// the idle timeout; a server connection says GOAWAY, so the client's next
// stream fails with ErrRefused (nothing was processed) and a fresh
// connection works.
func TestIdleTimeout(t *testing.T) {
	t.Run("Client", func(t *testing.T) {
		logs := newLogSink()
		l := echoServer(t, newTransport(t))
		tr := newTransport(t, tcp.WithIdleTimeout(150*time.Millisecond), tcp.WithLogger(logs.logger()))
		ctx := testCtx(t)
		c, err := tr.Dial(ctx, l.Addr())
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, call(ctx, c, []byte("x")))
		logs.waitFor(t, "tcp: connection closed", "server=false", "idle timeout of 150ms")
		_, err = c.NewStream(ctx, nil)
		require.ErrorIs(t, err, transport.ErrClosed)
	})
	t.Run("Server", func(t *testing.T) {
		logs := newLogSink()
		l := echoServer(t, newTransport(t, tcp.WithIdleTimeout(150*time.Millisecond), tcp.WithLogger(logs.logger())))
		tr := newTransport(t)
		ctx := testCtx(t)
		c, err := tr.Dial(ctx, l.Addr())
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, call(ctx, c, []byte("x")))
		logs.waitFor(t, "tcp: connection closed", "server=true", "closed by the peer")
		_, err = c.NewStream(ctx, nil)
		require.ErrorIs(t, err, transport.ErrRefused)

		c2, err := tr.Dial(ctx, l.Addr())
		require.NoError(t, err)
		defer c2.Close()
		require.NoError(t, call(ctx, c2, []byte("y")))
	})
}

// TestPingKeepsQuietStreamAlive: a stream with no traffic for several read
// timeouts survives, because PINGs prove the peer alive.
func TestPingKeepsQuietStreamAlive(t *testing.T) {
	logs := newLogSink()
	// Real sockets, so real time: the PING goes out after half the read
	// timeout and its answer must be back within the other half. At 200 ms
	// (100 ms for the answer) a race-detector run on a loaded 2-core
	// machine failed once; 1 s leaves 500 ms.
	tr := newTransport(t, tcp.WithReadTimeout(time.Second), tcp.WithLogger(logs.logger()))
	l := echoServer(t, tr)
	ctx := testCtx(t)
	c, err := tr.Dial(ctx, l.Addr())
	require.NoError(t, err)
	defer c.Close()
	s, err := c.NewStream(ctx, nil)
	require.NoError(t, err)
	defer s.Close()
	// Nothing arrives for 2.5 s: two and a half read timeouts.
	quiet, cancel := context.WithTimeout(ctx, 2500*time.Millisecond)
	defer cancel()
	_, err = s.Recv(quiet)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, s.Send(ctx, &transport.Message{Body: []byte("still there?")}))
	m, err := s.Recv(ctx)
	require.NoError(t, err)
	require.Equal(t, "still there?", string(m.Body))
}

// TestReadTimeout: a server that completes the handshake and then goes
// silent (it answers no PING) fails the client's open streams with ErrReset
// after the read timeout.
func TestReadTimeout(t *testing.T) {
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer nl.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, err := nl.Accept()
		if err != nil {
			return
		}
		nc.Write(preface(1<<20, 32)) // then read nothing, answer nothing
		accepted <- nc
	}()
	logs := newLogSink()
	tr := newTransport(t, tcp.WithReadTimeout(150*time.Millisecond), tcp.WithLogger(logs.logger()))
	ctx := testCtx(t)
	c, err := tr.Dial(ctx, nl.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	defer func() { (<-accepted).Close() }()
	s, err := c.NewStream(ctx, nil)
	require.NoError(t, err)
	start := time.Now()
	_, err = s.Recv(ctx)
	require.ErrorIs(t, err, transport.ErrReset)
	require.ErrorContains(t, err, "read timeout")
	require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	logs.waitFor(t, "WARN tcp: connection closed", "server=false", "no bytes from the peer")
}

// TestSlowStreamDoesNotBlockOthers: a stream whose receiver stops reading
// stalls only its own sender (window of 4 messages); other streams on the
// connection carry on.
func TestSlowStreamDoesNotBlockOthers(t *testing.T) {
	tr := newTransport(t, tcp.WithStreamWindow(4))
	l, err := tr.Listen("127.0.0.1:0")
	require.NoError(t, err)
	accl := transporttest.NewAcceptor(l)
	t.Cleanup(func() { accl.Close() })
	defer l.Close()
	ctx := testCtx(t)
	c, err := tr.Dial(ctx, l.Addr())
	require.NoError(t, err)
	defer c.Close()

	slow, err := c.NewStream(ctx, nil)
	require.NoError(t, err)
	defer slow.Close()
	slowSrv, err := accl.Accept(ctx)
	require.NoError(t, err)
	defer slowSrv.Close()
	m := &transport.Message{Body: []byte("m")}
	for range 4 {
		require.NoError(t, slow.Send(ctx, m))
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, slow.Send(short, m), context.DeadlineExceeded, "the fifth message waits for credit")

	fast, err := c.NewStream(ctx, nil)
	require.NoError(t, err)
	defer fast.Close()
	fastSrv, err := accl.Accept(ctx)
	require.NoError(t, err)
	defer fastSrv.Close()
	for i := range 100 {
		require.NoError(t, fast.Send(ctx, m), "message %d on the other stream", i)
		_, err := fastSrv.Recv(ctx)
		require.NoError(t, err)
	}

	// Reading the slow stream returns credit.
	for range 2 {
		_, err := slowSrv.Recv(ctx)
		require.NoError(t, err)
	}
	require.NoError(t, slow.Send(ctx, m))
}

// TestLargeMessages: messages larger than the read buffer and up to the
// limit, with many headers, arrive intact both ways.
func TestLargeMessages(t *testing.T) {
	tr := newTransport(t)
	l := echoServer(t, tr)
	ctx := testCtx(t)
	c, err := tr.Dial(ctx, l.Addr())
	require.NoError(t, err)
	defer c.Close()
	s, err := c.NewStream(ctx, nil)
	require.NoError(t, err)
	defer s.Close()
	for _, size := range []int{64<<10 - 100, 64 << 10, 1 << 20, transport.DefaultMaxMessageSize - 2000} {
		h := map[string]string{}
		for i := range 50 {
			h[fmt.Sprintf("K%d", i)] = strings.Repeat("v", i)
		}
		body := make([]byte, size)
		for i := range body {
			body[i] = byte(i * 7)
		}
		require.NoError(t, s.Send(ctx, &transport.Message{Header: h, Body: body}))
		got, err := s.Recv(ctx)
		require.NoError(t, err)
		require.Equal(t, h, got.Header)
		require.True(t, string(body) == string(got.Body), "body of %d bytes", size)
	}
}

// TestPeerLimitEnforcedBySender: each side tells the other its limit, and
// Send enforces the smaller one locally.
func TestPeerLimitEnforcedBySender(t *testing.T) {
	l := echoServer(t, newTransport(t, tcp.WithMaxMessageSize(1000)))
	tr := newTransport(t)
	ctx := testCtx(t)
	c, err := tr.Dial(ctx, l.Addr())
	require.NoError(t, err)
	defer c.Close()
	s, err := c.NewStream(ctx, nil)
	require.NoError(t, err)
	defer s.Close()
	err = s.Send(ctx, &transport.Message{Body: make([]byte, 1001)})
	require.ErrorIs(t, err, transport.ErrMessageTooLarge)
	require.ErrorContains(t, err, "1001")
	require.ErrorContains(t, err, "1000")
	require.NoError(t, s.Send(ctx, &transport.Message{Body: make([]byte, 1000)}))
	_, err = s.Recv(ctx)
	require.NoError(t, err)
}

// TestTransportClose: Close ends every connection and listener (pending
// calls return), waits for the goroutines, and later calls fail.
func TestTransportClose(t *testing.T) {
	srv := newTransport(t)
	l, err := srv.Listen("127.0.0.1:0")
	require.NoError(t, err)
	accl := transporttest.NewAcceptor(l)
	t.Cleanup(func() { accl.Close() })
	cli := newTransport(t)
	ctx := testCtx(t)
	c, err := cli.Dial(ctx, l.Addr())
	require.NoError(t, err)
	cs, err := c.NewStream(ctx, nil)
	require.NoError(t, err)
	ss, err := accl.Accept(ctx)
	require.NoError(t, err)

	srvRecv := make(chan error, 1)
	go func() { _, err := ss.Recv(ctx); srvRecv <- err }()
	cliRecv := make(chan error, 1)
	go func() { _, err := cs.Recv(ctx); cliRecv <- err }()

	require.NoError(t, srv.Close())
	require.ErrorIs(t, <-srvRecv, transport.ErrClosed, "server side: closed locally")
	require.ErrorIs(t, <-cliRecv, transport.ErrReset, "client side: the connection broke")
	_, err = accl.Accept(ctx)
	require.ErrorIs(t, err, transport.ErrClosed)
	_, err = srv.Listen("127.0.0.1:0")
	require.ErrorIs(t, err, transport.ErrClosed)
	_, err = srv.Dial(ctx, l.Addr())
	require.ErrorIs(t, err, transport.ErrClosed)
	require.NoError(t, srv.Close(), "idempotent")
}

// TestDialErrors: refused, ctx cancelled, dial timeout.
func TestDialErrors(t *testing.T) {
	tr := newTransport(t, tcp.WithDialTimeout(200*time.Millisecond))
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := nl.Addr().String()

	// A listener that accepts and never answers the preface: the dial timeout.
	defer nl.Close()
	go func() {
		for {
			nc, err := nl.Accept()
			if err != nil {
				return
			}
			defer nc.Close()
			io.Copy(io.Discard, nc)
		}
	}()
	start := time.Now()
	_, err = tr.Dial(context.Background(), addr)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "dial timeout of 200ms")
	require.Less(t, time.Since(start), wait)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = tr.Dial(ctx, addr)
	require.ErrorIs(t, err, context.Canceled)

	nl.Close()
	_, err = tr.Dial(context.Background(), addr)
	require.ErrorIs(t, err, transport.ErrRefused)
}

func TestOptionValidation(t *testing.T) {
	for _, tc := range []struct {
		opt  tcp.Option
		name string
	}{
		{tcp.WithMaxMessageSize(0), "WithMaxMessageSize"},
		{tcp.WithMaxMessageSize(tcp.MaxMessageSizeLimit + 1), "WithMaxMessageSize"},
		{tcp.WithStreamWindow(0), "WithStreamWindow"},
		{tcp.WithStreamWindow(tcp.MaxStreamWindow + 1), "WithStreamWindow"},
		{tcp.WithDialTimeout(-1), "WithDialTimeout"},
		{tcp.WithReadTimeout(-time.Second), "WithReadTimeout"},
		{tcp.WithWriteTimeout(-time.Second), "WithWriteTimeout"},
		{tcp.WithIdleTimeout(-time.Second), "WithIdleTimeout"},
		{tcp.WithLogger(nil), "WithLogger"},
		{tcp.WithTLS(nil, nil), "WithTLS"},
		{tcp.WithTLS(nil, &tls.Config{}), "WithTLS"},
	} {
		_, err := tcp.New(tc.opt)
		if assert.Error(t, err, tc.name) {
			assert.Contains(t, err.Error(), tc.name)
		}
	}
	tr, err := tcp.New(tcp.WithReadTimeout(0), tcp.WithWriteTimeout(0), tcp.WithIdleTimeout(0), tcp.WithDialTimeout(0))
	require.NoError(t, err, "0 disables a timeout")
	require.NoError(t, tr.Close())
}

// TestNoTimeouts: with every timeout disabled the transport still works and
// closes cleanly.
func TestNoTimeouts(t *testing.T) {
	tr := newTransport(t, tcp.WithReadTimeout(0), tcp.WithWriteTimeout(0), tcp.WithIdleTimeout(0), tcp.WithDialTimeout(0))
	l := echoServer(t, tr)
	ctx := testCtx(t)
	c, err := tr.Dial(ctx, l.Addr())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, call(ctx, c, []byte("hello")))
}
