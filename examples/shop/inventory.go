package shop

import (
	"context"
	"maps"
	"sync"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/errors"
)

// Stock is the inventory's database, shared by its instances: the items
// available per SKU and the reservation of each order. It is safe for
// concurrent use.
type Stock struct {
	mu       sync.Mutex
	left     map[string]int
	reserved map[string]ReserveRequest // by order ID
}

// NewStock returns a Stock holding the given quantities per SKU.
func NewStock(items map[string]int) *Stock {
	return &Stock{left: maps.Clone(items), reserved: map[string]ReserveRequest{}}
}

// Inventory builds the inventory handler of one instance over the stock.
func (s *Stock) Inventory(client.Client) any { return &Inventory{stock: s} }

// Left returns the quantity of sku not reserved.
func (s *Stock) Left(sku string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.left[sku]
}

// Reservations returns the number of orders holding a reservation.
func (s *Stock) Reservations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reserved)
}

// Inventory is the inventory service.
type Inventory struct{ stock *Stock }

// Reserve reserves req.Qty of req.SKU for the order, once: a repeated
// request for the same order reserves nothing more. It fails with
// Conflict when too few are left.
func (i *Inventory) Reserve(ctx context.Context, req *ReserveRequest, rsp *ReserveReply) error {
	if req.OrderID == "" || req.Qty <= 0 {
		return errors.NewBadRequest("inventory", "reserve: want an order_id and a positive qty, got %q and %d", req.OrderID, req.Qty)
	}
	s := i.stock
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.reserved[req.OrderID]; ok {
		rsp.Left = s.left[req.SKU]
		return nil
	}
	if s.left[req.SKU] < req.Qty {
		return errors.New("inventory", errors.Conflict, "reserve %s: %d of %q left, %d wanted", req.OrderID, s.left[req.SKU], req.SKU, req.Qty)
	}
	s.left[req.SKU] -= req.Qty
	s.reserved[req.OrderID] = *req
	rsp.Left = s.left[req.SKU]
	return nil
}

// Release gives back the order's reservation, if it has one.
func (i *Inventory) Release(ctx context.Context, req *ReleaseRequest, rsp *ReleaseReply) error {
	s := i.stock
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reserved[req.OrderID]
	if ok {
		s.left[r.SKU] += r.Qty
		delete(s.reserved, req.OrderID)
	}
	rsp.Released = ok
	return nil
}
