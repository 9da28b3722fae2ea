package nats_test

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/broker/nats"
)

// blackhole is a TCP proxy on 127.0.0.1 in front of a NATS server that
// can stop passing the client's bytes on without closing anything: the
// server is gone, and the client cannot tell.
type blackhole struct {
	l    net.Listener
	to   string
	drop atomic.Bool
	wg   sync.WaitGroup
	mu   sync.Mutex
	nc   []net.Conn
}

func newBlackhole(t *testing.T, to string) *blackhole {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := &blackhole{l: l, to: to}
	b.wg.Go(b.accept)
	t.Cleanup(b.close)
	return b
}

func (b *blackhole) accept() {
	for {
		c, err := b.l.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", b.to)
		if err != nil {
			c.Close()
			continue
		}
		b.mu.Lock()
		b.nc = append(b.nc, c, s)
		b.mu.Unlock()
		b.wg.Go(func() { b.pipe(s, c, true) })
		b.wg.Go(func() { b.pipe(c, s, false) })
	}
}

// pipe copies src to dst; bytes from the client are dropped while drop
// is set.
func (b *blackhole) pipe(dst, src net.Conn, fromClient bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !(fromClient && b.drop.Load()) {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				dst.Close()
			}
			return
		}
	}
}

func (b *blackhole) close() {
	b.l.Close()
	b.mu.Lock()
	for _, c := range b.nc {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// TestPublishWaitsForTheServer: Publish returns nil only once the server
// has the message. Through a connection whose bytes no longer reach the
// server (the server went away unnoticed), Publish used to return nil at
// once and the message was lost; now it fails when its ctx ends.
func TestPublishWaitsForTheServer(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	hole := newBlackhole(t, srv.url()[len("nats://"):])
	ctx := ctxT(t, wait)
	pub, err := nats.New(ctx, "nats://"+hole.l.Addr().String(), nats.WithNATSOptions(natsgo.PingInterval(time.Hour), natsgo.Timeout(300*time.Millisecond)))
	require.NoError(t, err)
	t.Cleanup(func() { pub.Close() })
	sub := newBroker(t, srv)
	c := newCollector()
	_, err = sub.Subscribe(ctx, "t", c.handle)
	require.NoError(t, err)

	require.NoError(t, pub.Publish(ctx, "t", &broker.Message{Body: []byte("confirmed")}))
	require.Equal(t, "confirmed", string(c.next(t).Body))

	hole.drop.Store(true)
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = pub.Publish(short, "t", &broker.Message{Body: []byte("lost")})
	require.ErrorIs(t, err, context.DeadlineExceeded, "the server never confirmed the message")
	require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)

	// Without a deadline of the caller's, the connection's Timeout bounds
	// the wait, and the error says the broker is unavailable.
	start = time.Now()
	err = pub.Publish(context.Background(), "t", &broker.Message{Body: []byte("lost too")})
	require.ErrorIs(t, err, broker.ErrUnavailable)
	require.ErrorContains(t, err, "the server did not confirm it")
	require.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond)
	hole.close() // the connection breaks: pub's Close need not drain into the hole
}
