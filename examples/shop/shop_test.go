package shop_test

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/examples/shop"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/simtest"
)

// The normal path: every order reserves, charges, and ships, with no
// retry anywhere; placing an order again changes nothing but the event.
func TestPlaceOrders(t *testing.T) {
	simtest.Run(t, func(t *testing.T, c *simtest.Cluster) {
		w := startShop(c, shop.OrdersConfig{})
		for i := range 20 {
			var rsp shop.PlaceReply
			require.NoError(t, c.Call(t.Context(), "orders", "Orders.Place", order(i), &rsp))
			require.Equal(t, order(i).OrderID, rsp.OrderID)
			require.NotEmpty(t, rsp.ChargeID)
		}
		synctest.Wait() // the events are delivered
		require.Equal(t, stockOf-20, w.stock.Left("book"))
		require.Equal(t, 20, w.ledger.Charges())
		require.EqualValues(t, 20*1250, w.ledger.Total("ada"))
		require.Equal(t, 20, w.book.Count())

		for _, svc := range []string{"orders", "inventory", "payments"} {
			s := c.Stats(svc)
			require.EqualValues(t, 20, s.Calls, svc)
			require.Zero(t, s.Failures+s.Retries+s.Hedges, svc)
			require.EqualValues(t, 20, s.TotalServed(), svc)
			for _, in := range c.Instances(svc) {
				require.Positive(t, s.Served[in], "%s: every instance takes a share", in)
			}
		}
		require.EqualValues(t, 20, c.Stats("shipping").TotalEvents())

		// The same order again: the same charge, no more stock, one more
		// event that ships nothing new.
		var again shop.PlaceReply
		require.NoError(t, c.Call(t.Context(), "orders", "Orders.Place", order(3), &again))
		synctest.Wait()
		require.Equal(t, 20, w.ledger.Charges())
		require.Equal(t, 1, w.ledger.Replays())
		require.Equal(t, stockOf-20, w.stock.Left("book"))
		require.Equal(t, 20, w.book.Count())
		require.EqualValues(t, 21, c.Stats("shipping").TotalEvents())

		var sh shop.Shipment
		require.NoError(t, c.Call(t.Context(), "shipping", "Shipping.Get", &shop.GetShipmentRequest{OrderID: "o-003"}, &sh))
		require.Equal(t, shop.Shipment{OrderID: "o-003", SKU: "book", Qty: 1}, sh)
		err := c.Call(t.Context(), "shipping", "Shipping.Get", &shop.GetShipmentRequest{OrderID: "o-999"}, &sh)
		require.Equal(t, errors.NotFound, errors.CodeOf(err))
	})
}

// Bad orders are refused before anything is reserved or charged.
func TestBadOrdersAreRefused(t *testing.T) {
	simtest.Run(t, func(t *testing.T, c *simtest.Cluster) {
		w := startShop(c, shop.OrdersConfig{})
		for _, req := range []*shop.PlaceRequest{
			{Customer: "ada", SKU: "book", Qty: 1},
			{OrderID: "o-1", Customer: "ada", SKU: "book", Qty: 0},
			{OrderID: "o-2", Customer: "ada", SKU: "book", Qty: 1, Amount: -5},
		} {
			err := c.Call(t.Context(), "orders", "Orders.Place", req, &shop.PlaceReply{})
			require.Equal(t, errors.BadRequest, errors.CodeOf(err), "%+v: %v", req, err)
		}
		// Out of stock: Conflict, nothing charged.
		err := c.Call(t.Context(), "orders", "Orders.Place", &shop.PlaceRequest{OrderID: "o-3", Customer: "ada", SKU: "book", Qty: stockOf + 1}, &shop.PlaceReply{})
		require.Equal(t, errors.Conflict, errors.CodeOf(err), "%v", err)
		require.Zero(t, w.ledger.Charges())
		require.Equal(t, stockOf, w.stock.Left("book"))
		require.Zero(t, c.Stats("payments").Calls)
	})
}
