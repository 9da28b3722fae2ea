package service_test

import (
	"context"
	"fmt"

	"github.com/microsim/microsim/framework/service"
	"github.com/microsim/microsim/memory"
)

// A greeter service on an in-memory network, called through its own client.
func Example() {
	net := memory.MustNetwork()
	defer net.Close()
	h := net.Host("app")

	svc, err := service.New("greeter", h.Transport(), h.Registry(), service.WithSignals())
	if err != nil {
		panic(err)
	}
	if err := svc.Handle(Greeter{}); err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := svc.Start(ctx); err != nil {
		panic(err)
	}
	defer svc.Stop(ctx)

	var rsp HelloReply
	if err := svc.Client().Call(ctx, "greeter", "Greeter.Hello", &HelloRequest{Name: "ana"}, &rsp); err != nil {
		panic(err)
	}
	fmt.Println(rsp.Greeting)
	// Output: hello ana
}
