// Package shop is a small shop built on microsim, with tests that run it
// whole, under faults, with simtest.
//
// Four services:
//
//   - orders: Orders.Place reserves the items (inventory's
//     Inventory.Reserve), charges the customer (payments' Payments.Charge,
//     within a payment deadline), and publishes an OrderCreated event on
//     TopicOrderCreated. When the charge fails it releases the reservation
//     (Inventory.Release) and fails the order.
//   - inventory: the stock, reserved and released per order.
//   - payments: a ledger of charges.
//   - shipping: a subscriber of TopicOrderCreated that books one shipment
//     per order; Shipping.Get looks one up.
//
// Every request carries the order ID, which is the idempotency key of
// every step: a retried Reserve reserves once, a retried Charge charges
// once (the ledger returns the first charge), a redelivered event ships
// once. So orders may mark its calls idempotent, and its client retries
// them after a timeout or a lost reply without charging twice.
//
// Each service is a plain handler struct built from its instance's
// client.Client by a constructor of the shape func(client.Client) any: a
// test cluster (simtest) or a simulator builds every instance with it.
// The stateful services keep their state in a store shared by their
// instances (Stock, Ledger, Shipments), standing for a database; their
// constructors are methods of the store.
package shop
