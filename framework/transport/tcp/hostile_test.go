package tcp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/tcp"
	"github.com/microsim/microsim/framework/transport/transporttest"
)

// heapMiB is the live heap after a full collection, in MiB.
func heapMiB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

// caller makes calls on one connection until stopped and counts them.
type caller struct {
	ok, failed atomic.Int64
	firstErr   atomic.Value
	stop       chan struct{}
	done       chan struct{}
}

func startCaller(t *testing.T, tr *tcp.Transport, addr string) *caller {
	t.Helper()
	c, err := tr.Dial(context.Background(), addr)
	require.NoError(t, err)
	k := &caller{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(k.done)
		defer c.Close()
		for i := 0; ; i++ {
			select {
			case <-k.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			err := call(ctx, c, []byte(fmt.Sprintf("good %d", i)))
			cancel()
			if err != nil {
				k.failed.Add(1)
				k.firstErr.CompareAndSwap(nil, err)
				return
			}
			k.ok.Add(1)
		}
	}()
	t.Cleanup(k.close)
	return k
}

func (k *caller) close() {
	select {
	case <-k.stop:
	default:
		close(k.stop)
	}
	<-k.done
}

// hostilePeer connects, opens stream 1 and sends a DATA header announcing
// a frame of maxPayload bytes and the payload's first byte; then it
// trickles one byte every interval until the server closes the connection.
func hostilePeer(addr string, maxPayload uint32, interval time.Duration) (net.Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		return nil, err
	}
	b := append(preface(1<<20, 32), rawFrame(0, tOpen, 1, nil)...)
	b = append(b, rawFrame(maxPayload, tData, 1, []byte{2})...)
	if _, err := nc.Write(b); err != nil {
		nc.Close()
		return nil, err
	}
	return nc, nil
}

// TestHostilePeersBoundedMemory: 200 connections each announce a frame of
// the largest size the server accepts (4 MiB and the slack) and send one
// byte of it, then trickle. The server holds little memory for them (it
// allocated 4 MiB for each before: 800 MiB), drops them once they fall
// under the minimum read rate, and a normal client on another connection
// is served throughout with no failure.
func TestHostilePeersBoundedMemory(t *testing.T) {
	const peers = 200
	logs := newLogSink()
	srv := newTransport(t, tcp.WithLogger(logs.logger()), tcp.WithReadTimeout(400*time.Millisecond))
	l := echoServer(t, srv)
	cli := newTransport(t)
	good := startCaller(t, cli, l.Addr())

	before := heapMiB()
	conns := make([]net.Conn, 0, peers)
	for range peers {
		nc, err := hostilePeer(l.Addr(), transport.DefaultMaxMessageSize+64<<10, 0)
		require.NoError(t, err)
		t.Cleanup(func() { nc.Close() })
		conns = append(conns, nc)
	}
	// Trickle: one byte to each connection every 20 ms, until it is closed.
	var trickling sync.WaitGroup
	stop := make(chan struct{})
	for _, nc := range conns {
		trickling.Go(func() {
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if _, err := nc.Write([]byte{0}); err != nil {
					return
				}
			}
		})
	}
	defer func() {
		close(stop)
		trickling.Wait()
	}()

	// The server has read every header and first byte.
	require.Eventually(t, func() bool { return good.ok.Load() > 10 }, wait, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond) // the trickle goes on; the server holds its frames
	held := heapMiB()
	t.Logf("heap: %.1f MiB before the hostile peers, %.1f MiB with %d of them", before, held, peers)
	assert.Less(t, held, 100.0, "MiB of heap with %d hostile connections", peers)

	// Each is dropped once under the minimum rate for half the read timeout.
	start := time.Now()
	for _, nc := range conns {
		nc.SetReadDeadline(time.Now().Add(wait))
		_, err := io.Copy(io.Discard, nc) // the server's preface, then its close
		if err == nil {
			err = io.EOF
		}
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server did not close a trickling peer within %v", wait)
	}
	t.Logf("all %d trickling peers dropped %v after the heap was measured", peers, time.Since(start).Round(time.Millisecond))
	assert.Equal(t, uint64(peers), srv.Stats().SlowPeers)
	logs.waitFor(t, "WARN tcp: connection closed", "peer too slow", "under the minimum rate of 4096 bytes/s")

	calls := good.ok.Load()
	require.Eventually(t, func() bool { return good.ok.Load() > calls+10 }, wait, 5*time.Millisecond)
	good.close()
	assert.Zero(t, good.failed.Load(), "failed calls of the normal client: %v", good.firstErr.Load())
	assert.Less(t, heapMiB(), 100.0)
}

// TestLargeFrameGrowsAsItArrives: a large message still arrives intact
// when its frame comes in pieces over time.
func TestLargeFrameGrowsAsItArrives(t *testing.T) {
	tr := newTransport(t)
	l := echoServer(t, tr)
	c, err := tr.Dial(context.Background(), l.Addr())
	require.NoError(t, err)
	defer c.Close()
	for _, size := range []int{128 << 10, 128<<10 + 1, 1 << 20, transport.DefaultMaxMessageSize} {
		body := make([]byte, size)
		for i := range body {
			body[i] = byte(i * 7)
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		s, err := c.NewStream(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, s.Send(ctx, &transport.Message{Body: body}))
		m, err := s.Recv(ctx)
		require.NoError(t, err)
		require.Equal(t, body, m.Body, "size %d", size)
		s.Close()
		cancel()
	}
}

// TestConnectionLimit: a listener serves at most WithMaxConns
// connections; one more is closed at once, counted and logged at a
// bounded rate.
func TestConnectionLimit(t *testing.T) {
	logs := newLogSink()
	tr := newTransport(t, tcp.WithLogger(logs.logger()), tcp.WithMaxConns(3))
	l := echoServer(t, tr)
	var live []*tcpClientConn
	for range 3 {
		live = append(live, dialOK(t, tr, l.Addr()))
	}
	for range 50 {
		bad := dialRaw(t, l.Addr())
		bad.write(preface(1<<20, 32))
		bad.waitClosed()
	}
	assert.Equal(t, uint64(50), tr.Stats().ConnsRefused)
	lines := logs.count("WARN", "connection limit reached")
	assert.GreaterOrEqual(t, lines, 1)
	assert.LessOrEqual(t, lines, 2, "log lines for 50 refusals")
	for _, c := range live {
		require.NoError(t, call(context.Background(), c.c, []byte("still served")))
	}
	// A connection that ends makes room for another.
	live[0].c.Close()
	require.Eventually(t, func() bool {
		c, err := tr.Dial(context.Background(), l.Addr())
		if err != nil {
			return false
		}
		defer c.Close()
		return call(context.Background(), c, []byte("x")) == nil
	}, wait, 10*time.Millisecond)
}

type tcpClientConn struct{ c transport.Conn }

func dialOK(t *testing.T, tr *tcp.Transport, addr string) *tcpClientConn {
	t.Helper()
	c, err := tr.Dial(context.Background(), addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, call(context.Background(), c, []byte("hello")))
	return &tcpClientConn{c: c}
}

// TestStreamLimit: a connection carries at most WithMaxStreams open
// streams; the next are refused (ErrRefused: nothing was processed),
// counted, and logged at a bounded rate; a finished stream makes room.
func TestStreamLimit(t *testing.T) {
	logs := newLogSink()
	tr := newTransport(t, tcp.WithLogger(logs.logger()), tcp.WithMaxStreams(4))
	l, err := tr.Listen("127.0.0.1:0")
	require.NoError(t, err)
	accl := transporttest.NewAcceptor(l)
	t.Cleanup(func() { accl.Close() })
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := tr.Dial(ctx, l.Addr())
	require.NoError(t, err)
	defer c.Close()

	var open []transport.Socket
	for range 4 {
		s, err := c.NewStream(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, s.Send(ctx, &transport.Message{Body: []byte("held")}))
		open = append(open, s)
	}
	var accepted []transport.Socket
	for range 4 {
		s, err := accl.Accept(ctx)
		require.NoError(t, err)
		accepted = append(accepted, s)
	}
	const extra = 300
	for range extra {
		s, err := c.NewStream(ctx, nil)
		require.NoError(t, err)
		// The refusal may come before the message is sent.
		if err = s.Send(ctx, &transport.Message{Body: []byte("one too many")}); err == nil {
			_, err = s.Recv(ctx)
		}
		require.ErrorIs(t, err, transport.ErrRefused)
		s.Close()
	}
	assert.Equal(t, uint64(extra), tr.Stats().StreamsRefused)
	lines := logs.count("WARN", "stream limit reached")
	assert.GreaterOrEqual(t, lines, 1)
	assert.LessOrEqual(t, lines, 2, "log lines for %d refusals", extra)

	// The streams held are intact; finishing one makes room for another.
	m, err := accepted[0].Recv(ctx)
	require.NoError(t, err)
	assert.Equal(t, "held", string(m.Body))
	accepted[0].Close()
	open[0].Close()
	require.Eventually(t, func() bool {
		s, err := c.NewStream(ctx, nil)
		if err != nil {
			return false
		}
		defer s.Close()
		if err := s.Send(ctx, &transport.Message{Body: []byte("room")}); err != nil {
			return false
		}
		got, err := accl.Accept(ctx)
		if err != nil {
			return false
		}
		defer got.Close()
		m, err := got.Recv(ctx)
		return err == nil && string(m.Body) == "room"
	}, wait, 10*time.Millisecond)
	for _, s := range accepted[1:] {
		s.Close()
	}
}

// TestHandshakeTimeoutDefault: a connection that never sends its preface
// is closed after the handshake timeout, counted as a handshake failure.
func TestHandshakeTimeout(t *testing.T) {
	logs := newLogSink()
	tr := newTransport(t, tcp.WithLogger(logs.logger()), tcp.WithHandshakeTimeout(150*time.Millisecond))
	l := echoServer(t, tr)
	bad := dialRaw(t, l.Addr())
	start := time.Now()
	bad.write([]byte("MSI")) // a trickle of a preface
	bad.waitClosed()
	took := time.Since(start)
	assert.GreaterOrEqual(t, took, 100*time.Millisecond)
	assert.Less(t, took, 2*time.Second)
	logs.waitFor(t, "handshake: read preface", "i/o timeout")
	assert.Equal(t, uint64(1), tr.Stats().HandshakeFailures)
	assert.Equal(t, 10*time.Second, tcp.DefaultHandshakeTimeout)
	assert.Equal(t, 90*time.Second, tcp.DefaultIdleTimeout)
}

func TestLimitOptionsRefuseBadValues(t *testing.T) {
	for _, opt := range []tcp.Option{tcp.WithMaxConns(0), tcp.WithMaxStreams(-1), tcp.WithMinReadRate(-1), tcp.WithHandshakeTimeout(-time.Second)} {
		_, err := tcp.New(opt)
		require.Error(t, err)
		assert.True(t, strings.HasPrefix(err.Error(), "tcp: With"), err.Error())
	}
}

// TestPingFloodWithoutReading: a peer that sends PINGs and never reads
// the PONGs is cut once a few MiB of answers wait for it, rather than
// making the server queue an answer for every PING.
func TestPingFloodWithoutReading(t *testing.T) {
	logs := newLogSink()
	tr := newTransport(t, tcp.WithLogger(logs.logger()))
	l := echoServer(t, tr)
	good := startCaller(t, newTransport(t), l.Addr())
	bad := dialRaw(t, l.Addr())
	bad.nc.(*net.TCPConn).SetReadBuffer(4 << 10)
	bad.write(preface(1<<20, 32))
	pings := bytes.Repeat(rawFrame(8, tPing, 0, make([]byte, 8)), 64<<10)
	wrote := 0
	for wrote < 64<<20 {
		n, err := bad.nc.Write(pings)
		wrote += n
		if err != nil {
			break // the server closed the connection
		}
	}
	logs.waitFor(t, "WARN tcp: connection closed", "PING flood", "does not read them")
	t.Logf("the server cut the flood after %d MiB of PINGs", wrote>>20)
	assert.Less(t, wrote, 64<<20)
	require.Eventually(t, func() bool { return good.ok.Load() > 10 }, wait, 5*time.Millisecond)
	good.close()
	assert.Zero(t, good.failed.Load())
}

// TestHandshakeFailuresLoggedAtBoundedRate: a flood of connections that
// send garbage is counted one by one and logged about once a second.
func TestHandshakeFailuresLoggedAtBoundedRate(t *testing.T) {
	logs := newLogSink()
	tr := newTransport(t, tcp.WithLogger(logs.logger()))
	l := echoServer(t, tr)
	const bad = 40
	for range bad {
		p := dialRaw(t, l.Addr())
		p.write([]byte("GET / HTTP/1.1\r\n\r\n"))
		p.waitClosed()
	}
	require.Eventually(t, func() bool { return tr.Stats().HandshakeFailures == bad }, wait, 5*time.Millisecond)
	lines := logs.count("WARN", "bad preface")
	assert.GreaterOrEqual(t, lines, 1)
	assert.LessOrEqual(t, lines, 2, "log lines for %d failed handshakes", bad)
}
