// Package simtest builds a cluster of the user's own services for a
// hand-written go test: named services of N instances on the hosts of a
// memory.Network, clients, faults, and counters to assert on, all inside a
// testing/synctest bubble, so that a test of minutes of traffic runs in
// milliseconds.
//
//	func TestOrdersSurviveInventoryCrash(t *testing.T) {
//		simtest.Run(t, func(t *testing.T, c *simtest.Cluster) {
//			c.Service("inventory", 3, func(client.Client) any { return &Inventory{} })
//			c.Service("orders", 1, func(cl client.Client) any { return &Orders{Inventory: cl} })
//			c.Crash("inventory-0")
//			for range 100 {
//				require.NoError(t, c.Call(t.Context(), "orders", "Orders.Place", &PlaceRequest{SKU: "a", Qty: 1}, &PlaceReply{}))
//			}
//			require.LessOrEqual(t, c.Stats("inventory").RetriesPerCall(), 0.1)
//		}, simtest.Defaults(simtest.SelectorOptions(selector.WithOutlierDetection(selector.OutlierConfig{ConsecutiveFailures: 1}))))
//	}
//
// Services: Cluster.Service starts instance i of "orders" on host
// "orders-<i>", node ID the same. Each instance is a process of its own:
// a framework client (selector over the host's registry, the host's
// transport and broker) and the handler a Constructor builds from that
// client, registered with server.Handle, or, if the handler is a
// Registrar, by the handler itself (subscribers, HandleFunc). A restarted
// instance is a new process with a new client and handler.
//
// Clients: Cluster.Client makes a calling host with the framework's
// selector and client; Cluster.Call and Cluster.Publish use the one named
// DefaultClient. Settings pass options through to client.New (retries,
// retry budget, hedging, timeouts), selector.New (strategy, outlier
// detection) and server.New, per service or client, or for all of them
// with Defaults.
//
// Faults: every node's transport, registry, broker, handler chain and
// attempt chain go through the cluster's faults.Injector, and every
// instance has a node control, so any faults.Spec can be injected
// (Cluster.Inject) and Crash, Restart, Pause and Resume need no set-up.
// Mistakes are loud: a fault that targets a node without the seam it acts
// through is refused at injection (ErrNoSeam), and a fault that acted on
// nothing by the end of the test fails it, naming the fault, unless
// AllowNoEffect says that was the point.
//
// Counters: Cluster.Stats counts, per service (Cluster.EndpointStats per
// endpoint), the calls made to it by every client of the cluster, the
// instances' clients included; their failures, attempts, retries and
// hedges; the attempts each instance received; and the calls and events
// each instance's handlers served.
//
// Teardown: the cluster registers its teardown with TB.Cleanup: it checks
// the faults, closes the clients, the injector, the servers (resuming
// paused hosts first) and the network, and waits for their goroutines.
//
// Recorder is a TB that records failures, for tests of the loud mistakes
// and for examples; outside a bubble a cluster runs in real time.
package simtest
