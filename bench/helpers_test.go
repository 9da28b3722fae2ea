package bench

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/codec"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/tcp"
	"github.com/microsim/microsim/memory"
)

// Payload sizes and concurrencies shared by the suites.
var (
	payloadSizes = []int{64, 1 << 10, 64 << 10}
	callConcs    = []int{1, 8, 64, 256}
)

// sizeName names a payload size the way the benchmark names show it.
func sizeName(n int) string {
	switch {
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	default:
		return fmt.Sprintf("%dB", n)
	}
}

// runConc runs b.N calls of op spread over conc goroutines, then reports
// calls/s over the timed part and the process's CPU time per call. op gets the goroutine's index; the first
// error fails the benchmark.
func runConc(b *testing.B, conc int, op func(worker int) error) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	var wg sync.WaitGroup
	var once sync.Once
	for w := range conc {
		n := b.N / conc
		if w < b.N%conc {
			n++
		}
		wg.Go(func() {
			for range n {
				if err := op(w); err != nil {
					once.Do(func() { b.Error(err) })
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	cpu.report(b, b.N)
	reportCalls(b, b.N)
}

// reportCalls reports n operations over the benchmark's elapsed time as calls/s.
func reportCalls(b *testing.B, n int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(n)/s, "calls/s")
	}
}

// Echo is the benchmark handler: it echoes the request's bytes.
type Echo struct{}

// Echo replies with the request's value.
func (Echo) Echo(_ context.Context, req *wrapperspb.BytesValue, rsp *wrapperspb.BytesValue) error {
	rsp.Value = req.Value
	return nil
}

// echoWorld is a started echo server and a client that reaches it.
type echoWorld struct {
	Client client.Client
	close  func()
}

// worldOptions are options added to an echo world's server and client.
type worldOptions struct {
	srv []server.Option
	cli []client.Option
}

// newEchoWorld starts service "echo" on srvTr (listening on addr) and a
// protobuf client on cliTr, both finding each other through reg, with the
// options of o added. Everything is stopped at b.Cleanup.
func newEchoWorld(b testing.TB, srvTr, cliTr transport.Transport, reg registry.Registry, addr string, o worldOptions) *echoWorld {
	b.Helper()
	ctx := context.Background()
	srv, err := server.New("echo", srvTr, reg, append([]server.Option{server.WithAddress(addr)}, o.srv...)...)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.HandleFunc("Echo.Echo", server.Unary(Echo{}.Echo)); err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		b.Fatal(err)
	}
	sel, err := selector.New(reg)
	if err != nil {
		b.Fatal(err)
	}
	c, err := client.New(sel, cliTr, append([]client.Option{client.WithContentType(codec.ContentTypeProto)}, o.cli...)...)
	if err != nil {
		b.Fatal(err)
	}
	w := &echoWorld{Client: c}
	w.close = func() {
		_ = c.Close()
		_ = sel.Close()
		_ = srv.Stop(ctx)
	}
	b.Cleanup(w.close)
	// One call to warm the selector cache and dial the connection.
	if err := w.call(ctx, wrapperspb.Bytes(make([]byte, 16)), &wrapperspb.BytesValue{}); err != nil {
		b.Fatal(err)
	}
	return w
}

func (w *echoWorld) call(ctx context.Context, req, rsp *wrapperspb.BytesValue) error {
	if err := w.Client.Call(ctx, "echo", "Echo.Echo", req, rsp); err != nil {
		return err
	}
	if len(rsp.Value) != len(req.Value) {
		return fmt.Errorf("echo of %d bytes came back with %d", len(req.Value), len(rsp.Value))
	}
	return nil
}

// newMemoryWorld is an echo world on a memory network: server on host
// "echo-0", client on host "client".
func newMemoryWorld(b testing.TB) *echoWorld { return newMemoryWorldWith(b, worldOptions{}) }

// newMemoryWorldWith is newMemoryWorld with the options of o.
func newMemoryWorldWith(b testing.TB, o worldOptions) *echoWorld {
	b.Helper()
	net := memory.MustNetwork()
	b.Cleanup(func() { _ = net.Close() })
	sh, ch := net.Host("echo-0"), net.Host("client")
	return newEchoWorld(b, sh.Transport(), ch.Transport(), ch.Registry(), "", o)
}

// newTCPWorld is an echo world over TCP on 127.0.0.1 (one transport each
// for server and client, one pooled connection), with a memory registry.
func newTCPWorld(b testing.TB) *echoWorld { return newTCPWorldWith(b, worldOptions{}) }

// newTCPWorldWith is newTCPWorld with the options of o.
func newTCPWorldWith(b testing.TB, o worldOptions) *echoWorld {
	b.Helper()
	net := memory.MustNetwork()
	b.Cleanup(func() { _ = net.Close() })
	srvTr, err := tcp.New()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srvTr.Close() })
	cliTr, err := tcp.New()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cliTr.Close() })
	return newEchoWorld(b, srvTr, cliTr, net.Registry(), "127.0.0.1:0", o)
}

// benchEcho runs unary echo calls of size bytes from conc goroutines.
func benchEcho(b *testing.B, w *echoWorld, conc, size int) {
	ctx := context.Background()
	reqs := make([]*wrapperspb.BytesValue, conc)
	rsps := make([]*wrapperspb.BytesValue, conc)
	for i := range reqs {
		reqs[i] = wrapperspb.Bytes(make([]byte, size))
		rsps[i] = &wrapperspb.BytesValue{}
	}
	b.SetBytes(int64(size))
	runConc(b, conc, func(i int) error { return w.call(ctx, reqs[i], rsps[i]) })
}
