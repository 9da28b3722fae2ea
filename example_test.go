package microsim_test

import (
	"context"
	"fmt"
	"log"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/service"
	"github.com/microsim/microsim/memory"
)

type HelloRequest struct{ Name string }
type HelloReply struct{ Message string }

type Greeter struct{}

func (Greeter) Hello(ctx context.Context, req *HelloRequest, rsp *HelloReply) error {
	rsp.Message = "Hello, " + req.Name
	return nil
}

// A service and a client over the in-memory network.
func Example() {
	ctx := context.Background()
	net := memory.MustNetwork() // an isolated world: transport, registry, broker
	defer net.Close()

	// The service runs on host "node-1" and registers itself.
	node := net.Host("node-1")
	svc, err := service.New("greeter", node.Transport(), node.Registry(), service.WithSignals())
	check(err)
	check(svc.Handle(Greeter{}))
	check(svc.Start(ctx))
	defer svc.Stop(ctx)

	// The client, on another host, finds it through the registry.
	app := net.Host("app")
	sel, err := selector.New(app.Registry())
	check(err)
	defer sel.Close()
	cli, err := client.New(sel, app.Transport())
	check(err)
	defer cli.Close()

	var rsp HelloReply
	check(cli.Call(ctx, "greeter", "Greeter.Hello", &HelloRequest{Name: "microsim"}, &rsp))
	fmt.Println(rsp.Message)
	// Output: Hello, microsim
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
