package peers

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// echoService is the (empty) interface grpc checks the implementation
// against; the hand-written descriptor below needs no generated code.
type echoService interface{}

type grpcEcho struct{}

// grpcEchoDesc is a hand-written service descriptor for bench.Echo/Echo,
// unary, carrying wrapperspb.BytesValue with grpc's default (protobuf)
// codec: the same messages and codec as microsim's benchmark, no protoc.
var grpcEchoDesc = grpc.ServiceDesc{
	ServiceName: "bench.Echo",
	HandlerType: (*echoService)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Echo",
		Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.BytesValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			return &wrapperspb.BytesValue{Value: in.Value}, nil
		},
	}},
	Metadata: "bench.proto",
}

const grpcEchoMethod = "/bench.Echo/Echo"

// grpcTCP: grpc-go over TCP on 127.0.0.1; one ClientConn, which is one
// HTTP/2 connection multiplexing every call.
func grpcTCP(b *testing.B, conc int) func(int) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	serveGRPC(b, l)
	return grpcClient(b, conc, l.Addr().String())
}

// grpcBufconn: grpc-go over google.golang.org/grpc/test/bufconn, its
// in-memory net.Conn.
func grpcBufconn(b *testing.B, conc int) func(int) error {
	l := bufconn.Listen(1 << 20)
	serveGRPC(b, l)
	return grpcClient(b, conc, "bufnet", grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return l.DialContext(ctx)
	}))
}

func serveGRPC(b *testing.B, l net.Listener) {
	srv := grpc.NewServer()
	srv.RegisterService(&grpcEchoDesc, grpcEcho{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	b.Cleanup(func() {
		srv.Stop()
		<-done
	})
}

func grpcClient(b *testing.B, conc int, addr string, opts ...grpc.DialOption) func(int) error {
	opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	cc, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	ctx := context.Background()
	reqs, rsps := make([]*wrapperspb.BytesValue, conc), make([]*wrapperspb.BytesValue, conc)
	for i := range reqs {
		reqs[i], rsps[i] = wrapperspb.Bytes(make([]byte, payloadSize)), &wrapperspb.BytesValue{}
	}
	return func(w int) error {
		if err := cc.Invoke(ctx, grpcEchoMethod, reqs[w], rsps[w]); err != nil {
			return err
		}
		return checkEcho(rsps[w].Value)
	}
}
