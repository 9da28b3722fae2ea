package client_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/memory"
)

// BenchmarkCallMemory measures one sequential unary call of 1 KiB over the
// memory network (real time, outside any bubble): the client's hot path
// plus the server's and the memory transport's. "plain" is a default
// client; "budget" adds the default retry budget; "hedged" makes the call
// idempotent on a client that hedges after 1 s (never reached), so it
// measures the hedged call path (attempts in goroutines) without hedges.
func BenchmarkCallMemory(b *testing.B) {
	for _, bc := range []struct {
		name     string
		opts     []client.Option
		callOpts []client.CallOption
	}{
		{"plain", nil, nil},
		{"budget", []client.Option{client.WithRetryBudget(client.DefaultRetryBudget())}, nil},
		{"hedged", []client.Option{client.WithHedging(client.HedgePolicy{Delay: time.Second, MaxHedges: 1})},
			[]client.CallOption{client.WithIdempotent()}},
	} {
		b.Run(bc.name, func(b *testing.B) { benchCall(b, bc.opts, bc.callOpts) })
	}
}

func benchCall(b *testing.B, opts []client.Option, callOpts []client.CallOption) {
	ctx := context.Background()
	net := memory.MustNetwork()
	defer net.Close()
	h := net.Host("echo-0")
	srv, err := server.New("echo", h.Transport(), h.Registry())
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Handle(&Bench{}); err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer srv.Stop(ctx)
	ch := net.Host("client")
	sel, err := selector.New(ch.Registry())
	if err != nil {
		b.Fatal(err)
	}
	defer sel.Close()
	c, err := client.New(sel, ch.Transport(), append([]client.Option{client.WithRand(newRand(1))}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()

	req := &EchoRequest{Text: strings.Repeat("x", 1024)}
	var rsp EchoReply
	if err := c.Call(ctx, "echo", "Bench.Say", req, &rsp, callOpts...); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(1024)
	b.ResetTimer()
	for b.Loop() {
		if err := c.Call(ctx, "echo", "Bench.Say", req, &rsp, callOpts...); err != nil {
			b.Fatal(err)
		}
	}
}

// Bench is a handler that only echoes: no bookkeeping to skew the benchmark.
type Bench struct{}

func (Bench) Say(_ context.Context, req *EchoRequest, rsp *EchoReply) error {
	rsp.Text = req.Text
	return nil
}
