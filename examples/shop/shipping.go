package shop

import (
	"context"
	"sync"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/server"
)

// Shipments is the shipping database, shared by its instances: one
// shipment per order. It is safe for concurrent use.
type Shipments struct {
	mu     sync.Mutex
	byID   map[string]Shipment
	events int
}

// NewShipments returns an empty shipment book.
func NewShipments() *Shipments { return &Shipments{byID: map[string]Shipment{}} }

// Shipping builds the shipping handler of one instance over the book.
func (s *Shipments) Shipping(client.Client) any { return &Shipping{book: s} }

// Count returns the number of orders shipped.
func (s *Shipments) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

// Events returns the number of OrderCreated events handled, repeated
// deliveries included.
func (s *Shipments) Events() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.events
}

// Get returns the shipment of an order.
func (s *Shipments) Get(orderID string) (Shipment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, ok := s.byID[orderID]
	return sh, ok
}

// Shipping is the shipping service: a subscriber of TopicOrderCreated
// and the endpoint Shipping.Get. It registers itself (simtest.Registrar),
// as its event handler is not an endpoint.
type Shipping struct{ book *Shipments }

// Register subscribes to TopicOrderCreated (one instance of the service
// gets each event) and serves Shipping.Get.
func (s *Shipping) Register(srv server.Server) error {
	if err := srv.Subscribe(TopicOrderCreated, s.orderCreated); err != nil {
		return err
	}
	return srv.HandleFunc("Shipping.Get", server.Unary(s.get))
}

// orderCreated books the order's shipment, once per order.
func (s *Shipping) orderCreated(ctx context.Context, ev *OrderCreated) error {
	b := s.book
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events++
	if _, ok := b.byID[ev.OrderID]; !ok {
		b.byID[ev.OrderID] = Shipment{OrderID: ev.OrderID, SKU: ev.SKU, Qty: ev.Qty}
	}
	return nil
}

// get returns an order's shipment, NotFound if none.
func (s *Shipping) get(ctx context.Context, req *GetShipmentRequest, rsp *Shipment) error {
	sh, ok := s.book.Get(req.OrderID)
	if !ok {
		return errors.NewNotFound("shipping", "no shipment for order %q", req.OrderID)
	}
	*rsp = sh
	return nil
}
