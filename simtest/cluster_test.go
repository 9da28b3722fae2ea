package simtest_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/simtest"
)

// The smallest test of a crash: orders keeps placing orders while one of
// three inventory instances is down, and with outlier detection the
// retries stay few.
func TestOrdersSurviveInventoryCrash(t *testing.T) {
	eject := simtest.SelectorOptions(selector.WithOutlierDetection(selector.OutlierConfig{ConsecutiveFailures: 1}))
	simtest.Run(t, func(t *testing.T, c *simtest.Cluster) {
		c.Service("inventory", 3, newInventory)
		c.Service("orders", 1, newOrders)
		c.Crash("inventory-0")
		for range 100 {
			require.NoError(t, c.Call(t.Context(), "orders", "Orders.Place", &PlaceRequest{SKU: "a", Qty: 1}, &PlaceReply{}))
		}
		inv := c.Stats("inventory")
		require.EqualValues(t, 100, inv.Calls)
		require.Zero(t, inv.Failures)
		require.Positive(t, inv.Retries, "the crashed instance stays registered, so some attempt hits it")
		require.LessOrEqual(t, inv.RetriesPerCall(), 0.1)
		require.Zero(t, inv.Served["inventory-0"])
		require.EqualValues(t, 100, inv.TotalServed())
	}, simtest.Defaults(eject))
}
