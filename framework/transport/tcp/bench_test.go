package tcp_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/tcp"
)

// BenchmarkRoundTrip measures a raw transport-level unary call over one
// connection: NewStream, Send 1 KiB, the server echoes it, Recv, Close; with
// 1 and 64 concurrent callers; the server is Listener.Serve with an echo.
//
//	go test -run '^$' -bench RoundTrip -benchtime 3s ./framework/transport/tcp/
func BenchmarkRoundTrip(b *testing.B) {
	for _, conc := range []int{1, 64} {
		b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) { benchRoundTrip(b, conc) })
	}
}

func benchRoundTrip(b *testing.B, conc int) {
	tr, err := tcp.New()
	require.NoError(b, err)
	defer tr.Close()
	l, err := tr.Listen("127.0.0.1:0")
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = l.Serve(func(s transport.Socket) {
			defer s.Close()
			if m, err := s.Recv(ctx); err == nil {
				_ = s.Send(ctx, m)
			}
		})
	})
	defer func() {
		cancel()
		l.Close()
		wg.Wait()
	}()
	c, err := tr.Dial(ctx, l.Addr())
	require.NoError(b, err)
	defer c.Close()

	body := make([]byte, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	var clients sync.WaitGroup
	var failed sync.Once
	for i := range conc {
		n := b.N / conc
		if i < b.N%conc {
			n++
		}
		clients.Go(func() {
			m := &transport.Message{Body: body}
			for range n {
				if err := roundTrip(ctx, c, m); err != nil {
					failed.Do(func() { b.Error(err) })
					return
				}
			}
		})
	}
	clients.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

func roundTrip(ctx context.Context, c transport.Conn, m *transport.Message) error {
	s, err := c.NewStream(ctx, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Send(ctx, m); err != nil {
		return err
	}
	r, err := s.Recv(ctx)
	if err != nil {
		return err
	}
	if len(r.Body) != len(m.Body) {
		return errors.New("short echo")
	}
	return nil
}
