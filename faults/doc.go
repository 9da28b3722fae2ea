// Package faults injects failures into a microsim world, as decorators on
// its seams: link faults on transports, RPC faults on handler and attempt
// chains, node faults through a NodeControl, registry faults on registry
// clients and broker faults on broker clients. Nothing here reaches inside
// an implementation, so the same link faults work over the memory
// transport in virtual time and over TCP in real time.
//
// An Injector owns the faults of one world:
//
//	inj := faults.New(seed)
//	inj.AddNode("db-1", faults.NodeInfo{Service: "db", Zone: "a"})
//	tr := inj.WrapTransport("api-1", host.Transport(), nil)
//	slow, err := inj.Add("slow-db", faults.LinkFault{
//		From: faults.Service("api"), To: faults.Service("db"),
//		Latency: faults.LogNormal(20*time.Millisecond, 200*time.Millisecond),
//	})
//	slow.Start(ctx) ... slow.Stop(ctx)
//
// A spec is validated when it is added: a bad parameter is refused with a
// *SpecError naming the field (`faults: link "slow-db": latency.median:
// must be >= 0, got -5ms`). Faults start and stop at run time, any number
// of times; targets (a service, an instance, a zone, labels, one random
// instance, a share of the instances) are resolved at each start.
//
// Every fault draws its randomness from streams of its own, derived from
// the injector's seed and the fault's name (see Fault): the same seed acts
// on the same messages twice, and adding a fault does not change another's
// draws. Every fault is observable: Fault.Stats counts what it matched and
// what it did, Injector.Timeline lists starts and stops, and OnTouch
// reports each action as it happens.
//
// Everything blocks only on channels and timers, so a world with faults
// runs inside a testing/synctest bubble in virtual time; create the
// injector inside the bubble. Goroutines are started only where a message
// must wait (a delayed stream, a watch, delayed broker messages); each
// ends when its work does, and Injector.Close stops and waits for all.
package faults
