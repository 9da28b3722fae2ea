package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/microsim/microsim/framework/broker"
	natsbroker "github.com/microsim/microsim/framework/broker/nats"
	"github.com/microsim/microsim/memory"
)

// maxInFlight bounds the messages published but not yet handled, so that
// the benchmark measures steady delivery rather than queue growth (and NATS,
// which is at most once, never drops one as a slow consumer).
const maxInFlight = 1024

// BenchmarkPubSub publishes messages of 64 B and 1 KiB from one broker
// client to one subscriber on another, through the memory broker (two
// hosts of one memory.Network) and through NATS (an embedded nats-server
// on a random 127.0.0.1 port, one connection each side). One op is one
// message published and handled; at most maxInFlight are outstanding.
//
//	go test -run '^$' -bench PubSub ./bench/
func BenchmarkPubSub(b *testing.B) {
	for _, size := range []int{64, 1 << 10} {
		b.Run(fmt.Sprintf("broker=memory/size=%s", sizeName(size)), func(b *testing.B) {
			net := memory.MustNetwork()
			defer net.Close()
			pub, sub := net.Host("pub").Broker(), net.Host("sub").Broker()
			defer pub.Close()
			defer sub.Close()
			benchPubSub(b, pub, sub, size, nil)
		})
		b.Run(fmt.Sprintf("broker=nats/size=%s", sizeName(size)), func(b *testing.B) {
			url := startNATS(b)
			ctx := context.Background()
			pub, err := natsbroker.New(ctx, url)
			if err != nil {
				b.Fatal(err)
			}
			defer pub.Close()
			sub, err := natsbroker.New(ctx, url)
			if err != nil {
				b.Fatal(err)
			}
			defer sub.Close()
			// The subscription must reach the server before the first publish.
			benchPubSub(b, pub, sub, size, func() error { return sub.Flush(ctx) })
		})
	}
}

func benchPubSub(b *testing.B, pub, sub broker.Broker, size int, ready func() error) {
	ctx := context.Background()
	var handled atomic.Int64
	wake := make(chan struct{}, 1)
	s, err := sub.Subscribe(ctx, "bench", func(context.Context, string, *broker.Message) error {
		handled.Add(1)
		select {
		case wake <- struct{}{}:
		default:
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if ready != nil {
		if err := ready(); err != nil {
			b.Fatal(err)
		}
	}
	m := &broker.Message{Header: map[string]string{"Content-Type": "application/octet-stream"}, Body: make([]byte, size)}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for int64(i)-handled.Load() >= maxInFlight {
			waitWake(b, wake)
		}
		if err := pub.Publish(ctx, "bench", m); err != nil {
			b.Fatal(err)
		}
	}
	for handled.Load() < int64(b.N) {
		waitWake(b, wake)
	}
	b.StopTimer()
	reportCalls(b, b.N)
}

// waitWake waits for the handler's signal; a message lost (NATS is at most
// once) fails the benchmark instead of hanging it.
func waitWake(b *testing.B, wake chan struct{}) {
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		b.Fatal("no message handled for 10s: one was lost")
	}
}

// startNATS starts an embedded NATS server on a random 127.0.0.1 port and
// returns its URL; it is shut down at b.Cleanup.
func startNATS(b *testing.B) string {
	b.Helper()
	srv, err := natsserver.NewServer(&natsserver.Options{
		Host:   "127.0.0.1",
		Port:   natsserver.RANDOM_PORT,
		NoLog:  true,
		NoSigs: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	go srv.Start()
	b.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	if !srv.ReadyForConnections(10 * time.Second) {
		b.Fatal("nats server did not start")
	}
	return srv.ClientURL()
}
