package faults_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/faults"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/tcp"
)

// TestLinkLatencyOverTCP: link faults decorate any transport; over TCP on
// loopback, in real time, a 20ms latency on requests adds at least 20ms to
// every round trip.
func TestLinkLatencyOverTCP(t *testing.T) {
	if testing.Short() {
		t.Skip("real time over loopback")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tr, err := tcp.New()
	require.NoError(t, err)
	defer tr.Close()
	l, err := tr.Listen("127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer l.Close()
	wg.Go(func() { echoServer(ctx, l, &wg) })

	inj := faults.New(1)
	defer inj.Close()
	require.NoError(t, inj.AddNode("cli", faults.NodeInfo{}))
	require.NoError(t, inj.AddNode("srv", faults.NodeInfo{Addrs: []string{l.Addr()}}))
	conn, err := inj.WrapTransport("cli", tr, nil).Dial(ctx, l.Addr())
	require.NoError(t, err)
	defer conn.Close()

	rtt := func() time.Duration {
		s, err := conn.NewStream(ctx, nil)
		require.NoError(t, err)
		defer s.Close()
		start := time.Now()
		require.NoError(t, s.Send(ctx, &transport.Message{Body: []byte("ping")}))
		m, err := s.Recv(ctx)
		require.NoError(t, err)
		require.Equal(t, "ping", string(m.Body))
		return time.Since(start)
	}
	var base time.Duration
	for range 5 {
		base = max(base, rtt())
	}
	f, err := inj.Inject(ctx, "slow", faults.LinkFault{From: faults.Node("cli"), To: faults.Node("srv"), Latency: faults.Constant(20 * time.Millisecond)})
	require.NoError(t, err)
	var slow []time.Duration
	for range 5 {
		d := rtt()
		slow = append(slow, d)
		assert.GreaterOrEqual(t, d, 20*time.Millisecond)
	}
	require.NoError(t, f.Stop(ctx))
	after := rtt()
	t.Logf("TCP loopback round trips: without the fault <= %v, with 20ms on requests %v, after it stopped %v", base, slow, after)
	assert.Equal(t, uint64(5), f.Stats().Counts["delayed"])
	assert.Less(t, after, 20*time.Millisecond)
}

// echoServer answers every message of every stream with itself, until l
// closes.
func echoServer(ctx context.Context, l transport.Listener, wg *sync.WaitGroup) {
	_ = l.Serve(func(s transport.Socket) {
		defer s.Close()
		for {
			m, err := s.Recv(ctx)
			if err != nil {
				return
			}
			if s.Send(ctx, m) != nil {
				return
			}
		}
	})
}
