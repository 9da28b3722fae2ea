package simtest_test

import (
	"context"
	"fmt"

	"github.com/microsim/microsim/faults"
	"github.com/microsim/microsim/framework/client"
	fwerrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/simtest"
)

type Greeter struct{}

type HelloRequest struct{ Name string }
type HelloReply struct{ Message string }

func (Greeter) Hello(ctx context.Context, req *HelloRequest, rsp *HelloReply) error {
	rsp.Message = "Hello, " + req.Name
	return nil
}

// A cluster of two greeters, one of which fails its first call. A test
// would use simtest.Run(t, ...); a Recorder stands in for the test here,
// and the cluster runs in real time.
func Example() {
	rec := &simtest.Recorder{}
	c := simtest.New(rec)
	c.Service("greeter", 2, func(client.Client) any { return Greeter{} })
	c.Inject("first-fails", faults.RPCFault{Nodes: faults.Node("greeter-0"), FirstN: 1, Error: fwerrors.Unavailable})

	var rsp HelloReply
	for range 4 {
		if err := c.Call(context.Background(), "greeter", "Greeter.Hello", &HelloRequest{Name: "simtest"}, &rsp); err != nil {
			fmt.Println(err)
		}
	}
	s := c.Stats("greeter")
	fmt.Println(rsp.Message)
	fmt.Printf("calls %d, attempts %d, retries %d, served %v\n", s.Calls, s.Attempts, s.Retries, s.Served)

	rec.Finish() // the end of the test: teardown and the fault check
	fmt.Println("failures:", rec.Errors())
	// Output:
	// Hello, simtest
	// calls 4, attempts 5, retries 1, served map[greeter-0:1 greeter-1:3]
	// failures: []
}
