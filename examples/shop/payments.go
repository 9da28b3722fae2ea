package shop

import (
	"context"
	"fmt"
	"sync"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/errors"
)

// Ledger is the payments' database, shared by their instances: at most
// one charge per order ID, and the orders voided. It is safe for
// concurrent use.
type Ledger struct {
	mu       sync.Mutex
	charges  map[string]ChargeRequest // by order ID
	ids      map[string]string        // order ID -> charge ID
	voided   map[string]bool          // orders that may no longer be charged
	refunded map[string]bool          // charged orders voided afterwards
	replays  int
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{charges: map[string]ChargeRequest{}, ids: map[string]string{}, voided: map[string]bool{}, refunded: map[string]bool{}}
}

// Payments builds the payments handler of one instance over the ledger.
func (l *Ledger) Payments(client.Client) any { return &Payments{ledger: l} }

// Charges returns the number of charges made, refunded ones included.
func (l *Ledger) Charges() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.charges)
}

// Refunds returns the number of charges refunded.
func (l *Ledger) Refunds() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.refunded)
}

// Total returns what customer paid, in cents: the charges not refunded.
func (l *Ledger) Total(customer string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var sum int64
	for id, c := range l.charges {
		if c.Customer == customer && !l.refunded[id] {
			sum += c.Amount
		}
	}
	return sum
}

// Replays returns the number of repeated charge requests answered with
// the first charge instead of charging again.
func (l *Ledger) Replays() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.replays
}

// Payments is the payments service.
type Payments struct{ ledger *Ledger }

// Charge charges the customer for the order, once: a repeated request
// with the same order ID returns the first charge (Replayed) and charges
// nothing. A voided order is refused with Conflict.
func (p *Payments) Charge(ctx context.Context, req *ChargeRequest, rsp *ChargeReply) error {
	if req.OrderID == "" || req.Customer == "" || req.Amount < 0 {
		return errors.NewBadRequest("payments", "charge: want an order_id, a customer and an amount >= 0, got %q, %q, %d", req.OrderID, req.Customer, req.Amount)
	}
	l := p.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.voided[req.OrderID] {
		return errors.New("payments", errors.Conflict, "charge %s: the order was voided", req.OrderID)
	}
	if id, ok := l.ids[req.OrderID]; ok {
		l.replays++
		rsp.ChargeID, rsp.Replayed = id, true
		return nil
	}
	id := fmt.Sprintf("ch-%d", len(l.charges)+1)
	l.charges[req.OrderID] = *req
	l.ids[req.OrderID] = id
	rsp.ChargeID = id
	return nil
}

// Void makes sure the order is not paid for: it refunds its charge, if
// any, and refuses any later charge of it (one still on its way, say).
// Orders voids a charge whose outcome it does not know, as after a
// timeout: the charge may have been made, or may still be. Idempotent.
func (p *Payments) Void(ctx context.Context, req *VoidRequest, rsp *VoidReply) error {
	if req.OrderID == "" {
		return errors.NewBadRequest("payments", "void: empty order_id")
	}
	l := p.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	l.voided[req.OrderID] = true
	if _, charged := l.charges[req.OrderID]; charged && !l.refunded[req.OrderID] {
		l.refunded[req.OrderID] = true
		rsp.Refunded = true
	}
	return nil
}
