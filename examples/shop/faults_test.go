package shop_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/examples/shop"
	"github.com/microsim/microsim/faults"
	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/simtest"
)

// An inventory instance crashes. Its registration stays until its TTL
// passes, so orders' clients still pick it: each such attempt is refused
// and retried on another instance, and every order succeeds. Once the TTL
// has passed nobody picks it any more; after a restart it serves again.
func TestOrdersSurviveAnInventoryCrash(t *testing.T) {
	simtest.Run(t, func(t *testing.T, c *simtest.Cluster) {
		w := startShop(c, shop.OrdersConfig{})
		place := func(from, to int) {
			for i := from; i < to; i++ {
				require.NoError(t, c.Call(t.Context(), "orders", "Orders.Place", order(i), &shop.PlaceReply{}))
			}
		}
		place(0, 30)
		before := c.Stats("inventory")
		require.Zero(t, before.Retries)

		c.Crash("inventory-1")
		place(30, 60)
		during := c.Stats("inventory")
		retries := during.Retries - before.Retries
		t.Logf("30 orders while inventory-1 is down but listed: %d retries", retries)
		require.Positive(t, retries)
		require.LessOrEqual(t, retries, uint64(30))
		// Every attempt at the dead node was refused and retried elsewhere.
		require.Equal(t, retries, during.Attempted["inventory-1"]-before.Attempted["inventory-1"])
		require.Equal(t, before.Served["inventory-1"], during.Served["inventory-1"])
		require.Zero(t, during.Failures)

		time.Sleep(4 * time.Second) // the registration expires (TTL 3s)
		place(60, 90)
		after := c.Stats("inventory")
		require.Equal(t, during.Retries, after.Retries, "an expired node is not picked")
		require.Equal(t, during.Attempted["inventory-1"], after.Attempted["inventory-1"])

		c.Restart("inventory-1")
		time.Sleep(time.Second) // the selectors hear of it
		place(90, 120)
		back := c.Stats("inventory")
		require.Greater(t, back.Served["inventory-1"], after.Served["inventory-1"], "the restarted instance serves again")
		require.Equal(t, after.Retries, back.Retries)

		require.Equal(t, stockOf-120, w.stock.Left("book"))
		require.Equal(t, 120, w.ledger.Charges())
	}, simtest.Defaults(simtest.RegisterTTL(3*time.Second)))
}

// Payments are so backed up that a charge waits a second before it is
// processed, past orders' payment deadline of 200ms: each order fails with
// DeadlineExceeded at the deadline, the charge is never made (its deadline
// passed before it ran), the stock is released and nothing ships. When
// payments recover, orders do.
func TestBackedUpPaymentsHitTheDeadline(t *testing.T) {
	simtest.Run(t, func(t *testing.T, c *simtest.Cluster) {
		w := startShop(c, shop.OrdersConfig{PaymentTimeout: 200 * time.Millisecond})
		backlog := c.Inject("payments-backlog", faults.RPCFault{Nodes: faults.Service("payments"), Endpoint: "Payments.Charge", Stall: time.Second})
		for i := range 5 {
			start := time.Now()
			err := c.Call(t.Context(), "orders", "Orders.Place", order(i), &shop.PlaceReply{})
			require.Equal(t, errors.DeadlineExceeded, errors.CodeOf(err), "%v", err)
			require.Equal(t, 200*time.Millisecond, time.Since(start), "the order fails at the payment deadline")
		}
		synctest.Wait()
		require.Zero(t, w.ledger.Charges())
		require.Equal(t, stockOf, w.stock.Left("book"), "every reservation was released")
		require.Zero(t, w.stock.Reservations())
		require.Zero(t, w.book.Count())
		require.EqualValues(t, 5, backlog.Stats().Touched)

		require.NoError(t, backlog.Stop(t.Context()))
		require.NoError(t, c.Call(t.Context(), "orders", "Orders.Place", order(5), &shop.PlaceReply{}))
		require.Equal(t, 1, w.ledger.Charges())
		require.EqualValues(t, 1250, w.ledger.Total("ada"))

		charge := c.EndpointStats("payments", "Payments.Charge")
		require.EqualValues(t, 6, charge.Calls)
		require.EqualValues(t, 5, charge.Failures)
		require.EqualValues(t, 1, charge.TotalServed(), "a stalled charge never reached the handler")
		require.EqualValues(t, 5, c.EndpointStats("payments", "Payments.Void").Calls)
		require.EqualValues(t, 5, c.EndpointStats("inventory", "Inventory.Release").Calls)
	})
}

// Payments answer a second late: the charge is made at once, but its reply
// arrives after orders' payment deadline. The order fails with
// DeadlineExceeded, and, as a timed-out charge may have been made, orders
// voids it: the customer is refunded and pays nothing.
func TestSlowPaymentRepliesAreVoided(t *testing.T) {
	simtest.Run(t, func(t *testing.T, c *simtest.Cluster) {
		w := startShop(c, shop.OrdersConfig{PaymentTimeout: 200 * time.Millisecond})
		c.Inject("slow-payments", faults.NodeFault{Action: faults.NodeSlowdown, Nodes: faults.Service("payments"), Add: faults.Constant(time.Second)})
		for i := range 5 {
			start := time.Now()
			err := c.Call(t.Context(), "orders", "Orders.Place", order(i), &shop.PlaceReply{})
			require.Equal(t, errors.DeadlineExceeded, errors.CodeOf(err), "%v", err)
			// The payment deadline, then the void's slow reply.
			require.Equal(t, 1200*time.Millisecond, time.Since(start))
		}
		synctest.Wait()
		require.Equal(t, 5, w.ledger.Charges(), "the charges were made")
		require.Equal(t, 5, w.ledger.Refunds(), "and refunded")
		require.Zero(t, w.ledger.Total("ada"))
		require.Equal(t, stockOf, w.stock.Left("book"))
		require.Zero(t, w.book.Count())
	})
}

// A charge whose reply is lost is retried after the attempt timeout;
// the payment's idempotency key makes the second run return the first
// charge, so the customer pays once.
func TestLostPaymentReplyChargesOnce(t *testing.T) {
	attempt := simtest.ClientOptions(client.WithAttemptTimeout(100 * time.Millisecond))
	simtest.Run(t, func(t *testing.T, c *simtest.Cluster) {
		w := startShop(c, shop.OrdersConfig{}, attempt)
		lost := c.Inject("lost-reply", faults.RPCFault{Nodes: faults.Service("payments"), Endpoint: "Payments.Charge", LostReply: true, FirstN: 1})
		var rsp shop.PlaceReply
		require.NoError(t, c.Call(t.Context(), "orders", "Orders.Place", order(0), &rsp))
		require.Equal(t, "ch-1", rsp.ChargeID)

		require.EqualValues(t, 1, lost.Stats().Touched)
		p := c.Stats("payments")
		require.EqualValues(t, 1, p.Calls)
		require.EqualValues(t, 2, p.Attempts)
		require.EqualValues(t, 1, p.Retries)
		require.EqualValues(t, 2, p.TotalServed(), "the handler ran twice")
		require.Equal(t, 1, w.ledger.Charges(), "but charged once")
		require.Equal(t, 1, w.ledger.Replays())
		require.EqualValues(t, 1250, w.ledger.Total("ada"))
	})
}

// Every order.created event reaches shipping: with three instances in
// one queue group each gets a third, and every order ships once.
func TestShippingGetsEveryEvent(t *testing.T) {
	simtest.Run(t, func(t *testing.T, c *simtest.Cluster) {
		w := startShop(c, shop.OrdersConfig{})
		c.Service("shipping-eu", 1, w.book.Shipping) // another service: its own queue group
		for i := range 60 {
			require.NoError(t, c.Call(t.Context(), "orders", "Orders.Place", order(i), &shop.PlaceReply{}))
		}
		synctest.Wait()
		require.Equal(t, map[string]uint64{"shipping-0": 30, "shipping-1": 30}, c.Stats("shipping").Events)
		require.Equal(t, map[string]uint64{"shipping-eu-0": 60}, c.Stats("shipping-eu").Events)
		require.Equal(t, 60, w.book.Count())
		require.Equal(t, 120, w.book.Events())
		for i := range 60 {
			_, ok := w.book.Get(order(i).OrderID)
			require.True(t, ok, order(i).OrderID)
		}
	})
}

// The broker delivers every event twice: shipping still ships each order
// once.
func TestDuplicateEventsShipOnce(t *testing.T) {
	simtest.Run(t, func(t *testing.T, c *simtest.Cluster) {
		w := startShop(c, shop.OrdersConfig{})
		dup := c.Inject("dup", faults.BrokerFault{Nodes: faults.Service("orders"), Topic: shop.TopicOrderCreated, Duplicate: 1})
		for i := range 10 {
			require.NoError(t, c.Call(t.Context(), "orders", "Orders.Place", order(i), &shop.PlaceReply{}))
		}
		synctest.Wait()
		require.EqualValues(t, 10, dup.Stats().Touched)
		require.EqualValues(t, 20, c.Stats("shipping").TotalEvents())
		require.Equal(t, 20, w.book.Events())
		require.Equal(t, 10, w.book.Count())
	})
}
