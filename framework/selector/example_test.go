package selector_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/microsim/microsim/framework/selector"
)

func Example() {
	reg := newFakeRegistry() // any registry.Registry, e.g. a memory.Network's
	ctx := context.Background()
	_ = reg.Register(ctx, service("greeter", "v1", nodes("g", 3)...))

	sel, err := selector.New(reg,
		selector.WithStrategy(selector.RoundRobin()),      // the default
		selector.WithFilter(selector.FilterVersion("v1")), // every Select
		selector.WithRand(rand.New(rand.NewPCG(1, 2))),    // reproducible backoff jitter
	)
	if err != nil {
		panic(err)
	}
	defer sel.Close()

	pick, err := sel.Select(ctx, "greeter") // one call's nodes
	if err != nil {
		panic(err)
	}
	defer pick.Release() // once the call is done with it
	for {
		node, err := pick.Next() // one attempt each; never the same node twice
		if errors.Is(err, selector.ErrNoneAvailable) {
			break
		}
		fmt.Println("try", node.Address)
		sel.Mark("greeter", node, errors.New("refused"))
	}
	for _, st := range sel.(selector.StatsReporter).Stats("greeter") {
		fmt.Println(st.ID, st.Successes, st.Failures)
	}
	// Output:
	// try g-0000:1
	// try g-0001:1
	// try g-0002:1
	// g-0000 0 1
	// g-0001 0 1
	// g-0002 0 1
}

// A selector for a resilient client: Peak EWMA balancing, outlier
// ejection, and a preference for the caller's zone.
func ExampleWithOutlierDetection() {
	reg := newFakeRegistry()
	ctx := context.Background()
	_ = reg.Register(ctx, service("greeter", "v1", nodes("g", 4)...))

	sel, err := selector.New(reg,
		// Round robin makes the example's output independent of timing (a
		// latency-aware strategy's picks depend on the wall clock).
		selector.WithStrategy(selector.RoundRobin()),
		selector.WithOutlierDetection(selector.OutlierConfig{ConsecutiveFailures: 3}),
		selector.WithFilter(selector.FilterZone("eu-1a", 2)), // no node has a zone here: all are used
	)
	if err != nil {
		panic(err)
	}
	defer sel.Close()

	tr := sel.(selector.Tracker) // what the client uses per attempt
	refused := errors.New("connection refused")
	for range 40 {
		pick, err := sel.Select(ctx, "greeter")
		if err != nil {
			panic(err)
		}
		node, _ := pick.Next()
		pick.Release() // a single attempt: the node stays valid
		done := tr.Begin("greeter", node)
		if node.ID == "g-0002" {
			done(refused) // g-0002 is down
		} else {
			done(nil)
		}
	}
	for _, st := range sel.(selector.StatsReporter).Stats("greeter") {
		if st.Ejected {
			fmt.Println(st.ID, "ejected after", st.NodeFailures, "failures")
		}
	}
	// Output:
	// g-0002 ejected after 3 failures
}
