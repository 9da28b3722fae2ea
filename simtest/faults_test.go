package simtest_test

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/faults"
	"github.com/microsim/microsim/framework/client"
	fwerrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/simtest"
)

// recorded runs fn with a cluster on a Recorder inside a bubble, tears the
// cluster down, and returns what the Recorder caught.
func recorded(t *testing.T, fn func(t *testing.T, c *simtest.Cluster)) []string {
	t.Helper()
	var errs []string
	synctest.Test(t, func(t *testing.T) {
		rec := &simtest.Recorder{}
		rec.Go(func() { fn(t, simtest.New(rec)) })
		rec.Finish()
		errs = rec.Errors()
	})
	return errs
}

func place(t *testing.T, c *simtest.Cluster, n int) {
	t.Helper()
	for range n {
		require.NoError(t, c.Call(t.Context(), "orders", "Orders.Place", &PlaceRequest{SKU: "a", Qty: 1}, &PlaceReply{}))
	}
}

func TestFaultThatActsOnNothingFailsTheTest(t *testing.T) {
	errs := recorded(t, func(t *testing.T, c *simtest.Cluster) {
		c.Service("inventory", 2, newInventory)
		c.Service("orders", 1, newOrders)
		// Orders never calls Inventory.Release: the fault cannot act.
		c.Inject("release-fails", faults.RPCFault{Nodes: faults.Service("inventory"), Endpoint: "Inventory.Release", Error: fwerrors.Internal})
		place(t, c, 10)
	})
	require.Len(t, errs, 1)
	require.Contains(t, errs[0], `rpc fault "release-fails" acted on nothing`)
	require.Contains(t, errs[0], "inventory-0, inventory-1")
	require.Contains(t, errs[0], "AllowNoEffect")
}

func TestFaultThatMatchedButNeverActedFailsTheTest(t *testing.T) {
	errs := recorded(t, func(t *testing.T, c *simtest.Cluster) {
		c.Service("inventory", 1, newInventory)
		c.Service("orders", 1, newOrders)
		// A rate so low that 5 calls are all spared (the draws are seeded).
		c.Inject("rare", faults.RPCFault{Nodes: faults.Service("inventory"), Rate: 1e-9, Error: fwerrors.Internal})
		place(t, c, 5)
	})
	require.Len(t, errs, 1)
	require.Contains(t, errs[0], `fault "rare" acted on nothing during the test: it matched 5 but acted on none of them`)
}

func TestAllowNoEffect(t *testing.T) {
	errs := recorded(t, func(t *testing.T, c *simtest.Cluster) {
		c.Service("inventory", 1, newInventory)
		c.Service("orders", 1, newOrders)
		f := c.Inject("never", faults.RPCFault{Nodes: faults.Service("inventory"), Endpoint: "Inventory.Release", Error: fwerrors.Internal},
			simtest.AllowNoEffect())
		place(t, c, 3)
		require.Zero(t, f.Stats().Touched)
	})
	require.Empty(t, errs)
}

func TestFaultActingPassesTheCheck(t *testing.T) {
	errs := recorded(t, func(t *testing.T, c *simtest.Cluster) {
		c.Service("inventory", 2, newInventory)
		c.Service("orders", 1, newOrders)
		f := c.Inject("first-fails", faults.RPCFault{Nodes: faults.Service("inventory"), FirstN: 1, Error: fwerrors.Unavailable})
		place(t, c, 4)
		require.EqualValues(t, 1, f.Stats().Touched)
		// The Unavailable reply was retried on the other instance.
		require.EqualValues(t, 1, c.Stats("inventory").Retries)
	})
	require.Empty(t, errs)
}

func TestFaultWithoutItsSeamIsRefusedAtInjection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &simtest.Recorder{}
		c := simtest.New(rec)
		c.Service("inventory", 1, newInventory)
		c.Client("web")

		// The client "web" serves nothing: no handler chain to fail calls in.
		_, err := c.TryInject("web-errors", faults.RPCFault{Nodes: faults.Node("web"), Error: fwerrors.Internal})
		require.ErrorIs(t, err, simtest.ErrNoSeam)
		require.Contains(t, err.Error(), `fault "web-errors": an RPC fault at the server edge`)
		require.Contains(t, err.Error(), "targets web, which has none")

		// A slowdown acts in the handler chain too; a crash needs a process.
		_, err = c.TryInject("slow-web", faults.NodeFault{Action: faults.NodeSlowdown, Factor: 2, Nodes: faults.Node("web")})
		require.ErrorIs(t, err, simtest.ErrNoSeam)
		_, err = c.TryInject("crash-web", &faults.NodeFault{Action: faults.NodeCrash, Nodes: faults.Node("web")})
		require.ErrorIs(t, err, simtest.ErrNoSeam)

		// At the client edge, the same target is fine.
		f, err := c.TryInject("web-client", faults.RPCFault{Edge: faults.ClientEdge, Nodes: faults.Node("web"), Error: fwerrors.Internal})
		require.NoError(t, err)
		require.NoError(t, f.Stop(t.Context()))

		// Inject fails the test with the same message.
		require.False(t, rec.Go(func() { c.Inject("web-errors", faults.RPCFault{Nodes: faults.Node("web"), Error: fwerrors.Internal}) }))
		require.Len(t, rec.Errors(), 1)
		require.Contains(t, rec.Errors()[0], "simtest: fault seam not installed")

		// An invalid spec is refused with the field named.
		_, err = c.TryInject("bad", faults.RPCFault{Nodes: faults.Service("inventory"), Rate: 2, Error: fwerrors.Internal})
		require.ErrorIs(t, err, faults.ErrInvalid)
		require.Contains(t, err.Error(), "rate")

		rec.Finish()
		// web-client never saw a call, but the test failed already: the
		// end-of-test check keeps quiet rather than add noise.
		require.Len(t, rec.Errors(), 1)
	})
}

func TestCrashRestartPauseResume(t *testing.T) {
	simtest.Run(t, func(t *testing.T, c *simtest.Cluster) {
		c.Service("inventory", 2, newInventory, simtest.RegisterTTL(3e9))
		c.Service("orders", 1, newOrders)
		place(t, c, 4)
		before := c.Handlers("inventory")
		require.Equal(t, 4, reservedOf(before[0])+reservedOf(before[1]))

		c.Crash("inventory-1")
		require.Nil(t, c.Handlers("inventory")[1], "a crashed instance has no handler")
		place(t, c, 4)
		// Round robin sent two calls to the crashed node: refused, retried.
		s := c.Stats("inventory")
		require.Equal(t, simtest.Stats{Calls: 8, Attempts: 10, Retries: 2,
			Attempted: map[string]uint64{"inventory-0": 6, "inventory-1": 4},
			Served:    map[string]uint64{"inventory-0": 6, "inventory-1": 2}, Events: map[string]uint64{}}, s)
		c.Restart("inventory-1")
		after := c.Handlers("inventory")
		require.NotSame(t, before[1], after[1], "a restart builds a new handler")
		require.Zero(t, reservedOf(after[1]), "a restarted process starts empty")

		c.Pause("inventory-0")
		// A frozen node answers nothing: idempotent calls time out on it
		// and are retried on inventory-1.
		for range 4 {
			require.NoError(t, c.Call(t.Context(), "inventory", "Inventory.Reserve", &ReserveRequest{SKU: "a", Qty: 1}, &ReserveReply{}, client.WithIdempotent()))
		}
		s = c.Stats("inventory")
		require.Equal(t, simtest.Stats{Calls: 12, Attempts: 16, Retries: 4,
			Attempted: map[string]uint64{"inventory-0": 8, "inventory-1": 8},
			Served:    map[string]uint64{"inventory-0": 6, "inventory-1": 6}, Events: map[string]uint64{}}, s)
		require.EqualValues(t, 4, reservedOf(c.Handlers("inventory")[1]), "inventory-1 took the paused node's calls")
		c.Resume("inventory-0")
		tl := c.Injector().Timeline()
		require.Len(t, tl, 4) // crash started, stopped; pause started, stopped
		require.Equal(t, "crash:inventory-1", tl[0].Fault)
		require.Equal(t, "pause:inventory-0", tl[2].Fault)
	}, simtest.Defaults(simtest.ClientOptions(attemptTimeout(200e6))))
}
