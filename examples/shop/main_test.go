package shop_test

import (
	"fmt"
	"testing"

	"go.uber.org/goleak"

	"github.com/microsim/microsim/examples/shop"
	"github.com/microsim/microsim/simtest"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// world is the shop's databases; the services run in the cluster.
type world struct {
	stock  *shop.Stock
	ledger *shop.Ledger
	book   *shop.Shipments
}

// stockOf is the stock of "book" every test starts with.
const stockOf = 1000

// startShop starts the shop in c: 3 inventory, 2 payments, 2 shipping and
// 2 orders instances; orders is configured by cfg and set.
func startShop(c *simtest.Cluster, cfg shop.OrdersConfig, set ...simtest.Setting) *world {
	w := &world{stock: shop.NewStock(map[string]int{"book": stockOf}), ledger: shop.NewLedger(), book: shop.NewShipments()}
	c.Service("inventory", 3, w.stock.Inventory)
	c.Service("payments", 2, w.ledger.Payments)
	c.Service("shipping", 2, w.book.Shipping)
	c.Service("orders", 2, cfg.New, set...)
	return w
}

// order is order i: one book for 12.50.
func order(i int) *shop.PlaceRequest {
	return &shop.PlaceRequest{OrderID: fmt.Sprintf("o-%03d", i), Customer: "ada", SKU: "book", Qty: 1, Amount: 1250}
}
