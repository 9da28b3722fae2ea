package peers

import (
	"context"
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

// Echo is microsim's echo handler.
type Echo struct{}

// Echo replies with the request's bytes.
func (Echo) Echo(_ context.Context, req, rsp *wrapperspb.BytesValue) error {
	rsp.Value = req.Value
	return nil
}

// microsimTCP: microsim over its TCP transport on 127.0.0.1, protobuf codec,
// a memory registry, the client's single pooled connection (the default).
func microsimTCP(b *testing.B, conc int) func(int) error {
	net := memory.MustNetwork()
	b.Cleanup(func() { net.Close() })
	srvTr, err := tcp.New()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srvTr.Close() })
	cliTr, err := tcp.New()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cliTr.Close() })
	return microsim(b, conc, srvTr, cliTr, net.Registry(), "127.0.0.1:0")
}

// microsimMemory: microsim over its in-memory transport (two hosts of one
// memory.Network, real time).
func microsimMemory(b *testing.B, conc int) func(int) error {
	net := memory.MustNetwork()
	b.Cleanup(func() { net.Close() })
	sh, ch := net.Host("echo-0"), net.Host("client")
	return microsim(b, conc, sh.Transport(), ch.Transport(), ch.Registry(), "")
}

func microsim(b *testing.B, conc int, srvTr, cliTr transport.Transport, reg registry.Registry, addr string) func(int) error {
	ctx := context.Background()
	srv, err := server.New("echo", srvTr, reg, server.WithAddress(addr))
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.HandleFunc("Echo.Echo", server.Unary(Echo{}.Echo)); err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Stop(ctx) })
	sel, err := selector.New(reg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sel.Close() })
	c, err := client.New(sel, cliTr, client.WithContentType(codec.ContentTypeProto))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	reqs, rsps := make([]*wrapperspb.BytesValue, conc), make([]*wrapperspb.BytesValue, conc)
	for i := range reqs {
		reqs[i], rsps[i] = wrapperspb.Bytes(make([]byte, payloadSize)), &wrapperspb.BytesValue{}
	}
	return func(w int) error {
		if err := c.Call(ctx, "echo", "Echo.Echo", reqs[w], rsps[w]); err != nil {
			return err
		}
		return checkEcho(rsps[w].Value)
	}
}
