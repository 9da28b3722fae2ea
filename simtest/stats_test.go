package simtest_test

import (
	"context"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/faults"
	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/simtest"
)

func reserve(ctx context.Context, c *simtest.Cluster, opts ...client.CallOption) error {
	return c.Call(ctx, "inventory", "Inventory.Reserve", &ReserveRequest{SKU: "a", Qty: 1}, &ReserveReply{}, opts...)
}

// A slow instance makes hedged calls send a backup; the counters tell
// hedges from retries, and the handler of the slow node still runs.
func TestHedgesAreCountedApartFromRetries(t *testing.T) {
	hedge := simtest.ClientOptions(client.WithHedging(client.HedgePolicy{Delay: 10 * time.Millisecond, MaxHedges: 1}))
	simtest.Run(t, func(t *testing.T, c *simtest.Cluster) {
		c.Service("inventory", 2, newInventory)
		slow := c.Inject("slow-0", faults.NodeFault{Action: faults.NodeSlowdown, Nodes: faults.Node("inventory-0"), Add: faults.Constant(time.Second)})
		start := time.Now()
		for range 10 {
			require.NoError(t, reserve(t.Context(), c, client.WithIdempotent()))
		}
		// Round robin: five calls went first to the slow node, and their
		// hedge, 10ms later, answered.
		require.Equal(t, 50*time.Millisecond, time.Since(start).Round(time.Millisecond))
		s := c.Stats("inventory")
		require.EqualValues(t, 10, s.Calls)
		require.EqualValues(t, 15, s.Attempts)
		require.EqualValues(t, 5, s.Hedges)
		require.Zero(t, s.Retries)
		require.EqualValues(t, map[string]uint64{"inventory-0": 5, "inventory-1": 10}, s.Attempted)
		require.EqualValues(t, 5, slow.Stats().Touched)
		require.Zero(t, c.EndpointStats("inventory", "Inventory.Other").Calls)
		require.EqualValues(t, 10, c.EndpointStats("inventory", "Inventory.Reserve").Calls)
	}, simtest.Defaults(hedge))
}

func TestRetriesPerCall(t *testing.T) {
	require.True(t, math.IsNaN(simtest.Stats{}.RetriesPerCall()), "no calls: NaN, so no bound holds")
	require.Equal(t, 0.25, simtest.Stats{Calls: 8, Retries: 2}.RetriesPerCall())
	require.EqualValues(t, 5, simtest.Stats{Served: map[string]uint64{"a": 2, "b": 3}}.TotalServed())
	require.EqualValues(t, 4, simtest.Stats{Events: map[string]uint64{"a": 4}}.TotalEvents())
}

func TestFailuresAreCounted(t *testing.T) {
	simtest.Run(t, func(t *testing.T, c *simtest.Cluster) {
		c.Service("inventory", 1, newInventory)
		err := c.Call(t.Context(), "inventory", "Inventory.Reserve", &ReserveRequest{Qty: -1}, &ReserveReply{})
		require.ErrorContains(t, err, "qty -1")
		s := c.Stats("inventory")
		require.EqualValues(t, 1, s.Calls)
		require.EqualValues(t, 1, s.Failures)
		require.EqualValues(t, 1, s.Served["inventory-0"])
	})
}

// Shipments is a subscriber-only handler: a Registrar.
type Shipments struct{ got chan string }

type Shipped struct{ Order string }

func (s *Shipments) Register(srv server.Server) error {
	return srv.Subscribe("order.created", func(ctx context.Context, m *Shipped) error {
		s.got <- m.Order
		return nil
	})
}

func TestRegistrarSubscribesAndEventsAreCounted(t *testing.T) {
	simtest.Run(t, func(t *testing.T, c *simtest.Cluster) {
		got := make(chan string, 100)
		c.Service("shipping", 2, func(client.Client) any { return &Shipments{got: got} })
		for i := range 6 {
			require.NoError(t, c.Publish(t.Context(), "order.created", &Shipped{Order: string(rune('a' + i))}))
		}
		synctest.Wait()
		require.Len(t, got, 6)
		// One queue group per service: each event is handled once, and
		// the memory broker takes the members in turn.
		require.Equal(t, map[string]uint64{"shipping-0": 3, "shipping-1": 3}, c.Stats("shipping").Events)
	})
}

func TestSetupMistakesFailTheTest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &simtest.Recorder{}
		c := simtest.New(rec)
		c.Service("inventory", 1, newInventory)
		cases := []struct {
			name string
			fn   func()
			want string
		}{
			{"nil constructor", func() { c.Service("x", 1, nil) }, `Service("x"): nil constructor`},
			{"no instances", func() { c.Service("x", 0, newInventory) }, `Service("x"): 0 instances`},
			{"duplicate", func() { c.Service("inventory", 1, newInventory) }, `name already in use: service "inventory"`},
			{"nil handler", func() { c.Service("y", 1, func(client.Client) any { return nil }) }, `constructor of service "y" returned nil`},
			{"bad handler", func() { c.Service("z", 1, func(client.Client) any { return &BadHandler{} }) }, "BadHandler.Wrong"},
			{"name with a colon", func() { c.Service("a:b", 1, newInventory) }, `Service("a:b"): a name must not hold ":"`},
			{"client name with a space", func() { c.Client("my client") }, `Client("my client"): a name must not hold " "`},
			{"settings for an existing client", func() { c.Client("web"); c.Client("web", simtest.Zones("a")) }, `Client("web") with settings: the client exists`},
			{"client on an instance's host", func() { c.Client("inventory-0") }, `node "inventory-0"`},
			{"unknown service stats", func() { c.Stats("inventroy") }, `Stats("inventroy"): the cluster has no such service`},
			{"restart of a running node", func() { c.Restart("inventory-0") }, "inventory-0 was not crashed"},
			{"crash of an unknown node", func() { c.Crash("nope-0") }, `unknown node "nope-0"`},
		}
		for i, tc := range cases {
			require.False(t, rec.Go(tc.fn), tc.name)
			errs := rec.Errors()
			require.Len(t, errs, i+1, tc.name)
			require.Contains(t, errs[i], tc.want, tc.name)
		}
		rec.Finish()
		require.Len(t, rec.Errors(), len(cases), "teardown adds nothing")
	})
}

// BadHandler has a method that is not an endpoint.
type BadHandler struct{}

func (*BadHandler) Wrong(int) {}

// Settings reach the framework: a selector filter and a client's retry
// policy, from Defaults and per client.
func TestSettingsPassThrough(t *testing.T) {
	zoneB := simtest.SelectorOptions(selector.WithFilter(selector.FilterZone("b", 1)))
	simtest.Run(t, func(t *testing.T, c *simtest.Cluster) {
		c.Service("inventory", 4, newInventory, simtest.Zones("a", "b"))
		for range 6 {
			require.NoError(t, reserve(t.Context(), c))
		}
		require.Equal(t, map[string]uint64{"inventory-1": 3, "inventory-3": 3}, c.Stats("inventory").Served, "zone b only")

		never := client.WithRetryPolicy(client.RetryFunc(func(context.Context, *client.Request, int, error) (time.Duration, bool) { return 0, false }))
		strict := c.Client("strict", simtest.ClientOptions(never))
		c.Crash("inventory-1")
		var failed int
		for range 6 {
			if strict.Call(t.Context(), "inventory", "Inventory.Reserve", &ReserveRequest{SKU: "a", Qty: 1}, &ReserveReply{}) != nil {
				failed++
			}
		}
		require.Equal(t, 3, failed, "every call sent to the crashed node failed, unretried")
		s := c.Stats("inventory")
		require.EqualValues(t, 12, s.Calls)
		require.EqualValues(t, 3, s.Failures)
		require.Zero(t, s.Retries)
		require.EqualValues(t, 6, strict.Stats().Calls, "the framework client's own counters agree")
		require.EqualValues(t, 3, strict.Stats().Failures)
	}, simtest.Defaults(zoneB))
}
