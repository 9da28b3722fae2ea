// Package registrytest is the conformance suite every registry.Registry
// implementation runs against itself: it checks the semantics documented in
// package registry (round trip, grouping by version, listing, deregistering,
// errors, TTL refresh and expiry, lossless ordered watching, filtering,
// stopping and cancelling watchers, copies, concurrency).
//
// A test of an implementation builds a Suite and runs it:
//
//	func TestConformance(t *testing.T) {
//		registrytest.Suite{
//			New: func(t *testing.T) registry.Registry {
//				r, err := consul.New(&api.Config{Address: addr})
//				require.NoError(t, err)
//				t.Cleanup(func() { r.Close() })
//				return r
//			},
//			TTL:  2 * time.Second,
//			Wait: 10 * time.Second,
//		}.Run(t)
//	}
//
// The suite works on a registry shared with other tests: every subtest uses
// service names of its own (the subtest's name plus a nonce), ignores events
// and listed services that are not its own, and deregisters what it
// registered when it ends. Besides package registry's documented
// semantics, it expects:
//
//   - Register rejects a nil service, an empty name, no nodes, a nil node,
//     a node without ID or address and duplicate node IDs with ErrInvalid;
//   - GetService's error for an unknown service names the service;
//   - a version's Service carries the metadata and endpoints registered
//     with it (the suite gives all nodes of a version the same ones);
//   - Event.Service holds the node the event is about, with its service's
//     name and version, and Event.Timestamp is set;
//   - after Stop, Next returns ErrWatcherStopped, also to a Next already
//     waiting; a Next ended by its ctx returns an error wrapping ctx.Err()
//     and leaves the watcher usable;
//   - watchers of one service see that service's events in order; a watcher
//     of all services sees every service's events, each service's in order.
//
// It waits with context timeouts, never with sleeps (except to pace TTL
// heartbeats), so it runs both in real time and, with Suite.Synctest, in a
// testing/synctest bubble in virtual time. Every goroutine it starts ends
// before its subtest does.
package registrytest
