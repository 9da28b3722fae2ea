package memory_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/memory"
)

// BenchmarkRoundTrip is the memory transport's share of a unary call:
// NewStream, the request (4 headers, 1 KiB) each way, Recv, Close on both
// sides, with conc callers on one connection and an echo worker per caller
// (plus one idle) on the server, in real time.
//
//	go test -run '^$' -bench RoundTrip -benchmem ./memory/
func BenchmarkRoundTrip(b *testing.B) {
	for _, conc := range []int{1, 64} {
		b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			n := memory.MustNetwork()
			defer n.Close()
			l, err := n.Host("srv").Transport().Listen("")
			if err != nil {
				b.Fatal(err)
			}
			c, err := n.Host("cli").Transport().Dial(ctx, l.Addr())
			if err != nil {
				b.Fatal(err)
			}
			var workers sync.WaitGroup
			defer workers.Wait()
			defer l.Close()
			for range conc + 1 {
				workers.Go(func() {
					reply := &transport.Message{Header: map[string]string{"Content-Type": "application/protobuf"}}
					for {
						s, err := memory.AcceptOne(ctx, l)
						if err != nil {
							return
						}
						if m, err := s.Recv(ctx); err == nil {
							reply.Body = m.Body
							_ = s.Send(ctx, reply)
						}
						_ = s.Close()
					}
				})
			}
			body := bytes.Repeat([]byte{'x'}, 1<<10)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			var callers sync.WaitGroup
			for w := range conc {
				calls := b.N / conc
				if w < b.N%conc {
					calls++
				}
				callers.Go(func() {
					req := &transport.Message{Header: map[string]string{
						"Micro-Service": "echo", "Micro-Endpoint": "Echo.Echo",
						"Content-Type": "application/protobuf", "Micro-Timeout": "5s",
					}, Body: body}
					for range calls {
						if err := roundTrip(ctx, c, req); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			callers.Wait()
			b.StopTimer()
		})
	}
}

func roundTrip(ctx context.Context, c transport.Conn, req *transport.Message) error {
	s, err := c.NewStream(ctx, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Send(ctx, req); err != nil {
		return err
	}
	m, err := s.Recv(ctx)
	if err != nil {
		return err
	}
	if len(m.Body) != len(req.Body) {
		return fmt.Errorf("reply of %d bytes, want %d", len(m.Body), len(req.Body))
	}
	return nil
}
