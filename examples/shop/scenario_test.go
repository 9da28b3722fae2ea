package shop_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/examples/shop"
	"github.com/microsim/microsim/sim"
)

// TestZoneOutageScenario runs the shop's own handlers inside the scenario
// file scenarios/zone-outage.yaml: the file sizes the system, drives the
// load and takes zone a down; the test supplies the services and checks
// what only the shop knows: nobody was charged twice and every order
// shipped.
func TestZoneOutageScenario(t *testing.T) {
	stock, ledger, book := shop.NewStock(map[string]int{"book": 1_000_000}), shop.NewLedger(), shop.NewShipments()
	rep := sim.Run(t, "scenarios/zone-outage.yaml",
		sim.WithService("orders", shop.NewOrders),
		sim.WithService("inventory", stock.Inventory),
		sim.WithService("payments", ledger.Payments),
		sim.WithService("shipping", book.Shipping))
	require.NotNil(t, rep)
	ok := int(rep.Totals.Successes)
	require.Greater(t, ok, 1900, "40s of 50 orders a second")
	assert.Equal(t, ok, ledger.Charges(), "one charge per order, retries included")
	assert.Equal(t, int64(500*ok), ledger.Total("c-1"))
	assert.Equal(t, 1_000_000-ok, stock.Left("book"))
	assert.Equal(t, ok, book.Count(), "every order shipped once")
	t.Logf("%d orders, %d retries, %d charges (%d replays), %d shipments from %d events",
		ok, rep.Totals.Retries, ledger.Charges(), ledger.Replays(), book.Count(), book.Events())
}
