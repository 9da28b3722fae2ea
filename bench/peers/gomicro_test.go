package peers

import (
	"context"
	"io"
	"testing"

	"go-micro.dev/v5/broker"
	"go-micro.dev/v5/client"
	"go-micro.dev/v5/logger"
	"go-micro.dev/v5/registry"
	"go-micro.dev/v5/selector"
	"go-micro.dev/v5/server"
	"go-micro.dev/v5/transport"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// GoMicroEcho is go-micro's echo handler.
type GoMicroEcho struct{}

// Echo replies with the request's bytes.
func (GoMicroEcho) Echo(_ context.Context, req, rsp *wrapperspb.BytesValue) error {
	rsp.Value = req.Value
	return nil
}

// gomicroTCP: go-micro v5 (v5.30.0) with its rpc client and server, its
// default HTTP transport, a memory registry and the protobuf codec. Each
// of its client sockets carries one call at a time, so at concurrency 64
// its pool holds up to 64 connections (pool size 100, the default): it
// cannot be held to one connection.
//
// Everything is built with explicit options; nothing is read from or
// written to go-micro's Default* globals (client.Registry would Init the
// global DefaultSelector, so the selector is passed instead).
func gomicroTCP(b *testing.B, conc int) func(int) error {
	log := logger.NewLogger(logger.WithOutput(io.Discard), logger.WithLevel(logger.ErrorLevel))
	reg := registry.NewMemoryRegistry(registry.Logger(log))
	srv := server.NewRPCServer(
		server.Name("bench.echo"),
		server.Address("127.0.0.1:0"),
		server.Registry(reg),
		server.Transport(transport.NewHTTPTransport(transport.Logger(log))),
		server.Broker(broker.NewMemoryBroker(broker.Logger(log))),
		server.WithLogger(log),
	)
	if err := srv.Handle(srv.NewHandler(GoMicroEcho{})); err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Stop() })
	c := client.NewClient(
		client.Selector(selector.NewSelector(selector.Registry(reg), selector.WithLogger(log))),
		client.Transport(transport.NewHTTPTransport(transport.Logger(log))),
		client.Broker(broker.NewMemoryBroker(broker.Logger(log))),
		client.ContentType("application/protobuf"),
		client.WithLogger(log),
	)
	ctx := context.Background()
	reqs, rsps := make([]client.Request, conc), make([]*wrapperspb.BytesValue, conc)
	for i := range reqs {
		reqs[i] = c.NewRequest("bench.echo", "GoMicroEcho.Echo", wrapperspb.Bytes(make([]byte, payloadSize)))
		rsps[i] = &wrapperspb.BytesValue{}
	}
	return func(w int) error {
		if err := c.Call(ctx, reqs[w], rsps[w]); err != nil {
			return err
		}
		return checkEcho(rsps[w].Value)
	}
}
