package simtest_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/client"
)

// The services of the package's tests: orders calls inventory.

type ReserveRequest struct {
	SKU string
	Qty int
}

type ReserveReply struct{ Instance string }

// Inventory counts its reservations.
type Inventory struct {
	mu       sync.Mutex
	reserved int
}

func (i *Inventory) Reserve(ctx context.Context, req *ReserveRequest, rsp *ReserveReply) error {
	if req.Qty <= 0 {
		return fmt.Errorf("inventory: qty %d", req.Qty)
	}
	i.mu.Lock()
	i.reserved += req.Qty
	i.mu.Unlock()
	return nil
}

func reservedOf(h any) int {
	i, ok := h.(*Inventory)
	if !ok {
		return 0
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.reserved
}

type PlaceRequest struct {
	SKU string
	Qty int
}

type PlaceReply struct{ OK bool }

// Orders reserves stock through inventory.
type Orders struct{ Inventory client.Client }

func (o *Orders) Place(ctx context.Context, req *PlaceRequest, rsp *PlaceReply) error {
	if err := o.Inventory.Call(ctx, "inventory", "Inventory.Reserve", &ReserveRequest{SKU: req.SKU, Qty: req.Qty}, &ReserveReply{}); err != nil {
		return err
	}
	rsp.OK = true
	return nil
}

func newInventory(client.Client) any { return &Inventory{} }
func newOrders(c client.Client) any  { return &Orders{Inventory: c} }

func attemptTimeout(d time.Duration) client.Option { return client.WithAttemptTimeout(d) }
