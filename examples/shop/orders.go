package shop

import (
	"context"
	stderrors "errors"
	"fmt"
	"time"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/errors"
)

// Defaults of OrdersConfig.
const (
	DefaultPaymentTimeout = 2 * time.Second
	DefaultUndoTimeout    = 10 * time.Second
)

// OrdersConfig configures the orders service.
type OrdersConfig struct {
	// PaymentTimeout bounds Payments.Charge, retries included (default
	// DefaultPaymentTimeout).
	PaymentTimeout time.Duration
	// UndoTimeout bounds the undoing of a failed order: the void of its
	// payment and the release of its stock (default DefaultUndoTimeout).
	UndoTimeout time.Duration
}

// New builds the orders handler of one instance from its client.
func (cfg OrdersConfig) New(c client.Client) any {
	if cfg.PaymentTimeout <= 0 {
		cfg.PaymentTimeout = DefaultPaymentTimeout
	}
	if cfg.UndoTimeout <= 0 {
		cfg.UndoTimeout = DefaultUndoTimeout
	}
	return &Orders{client: c, cfg: cfg}
}

// NewOrders builds the orders handler with the default configuration.
func NewOrders(c client.Client) any { return OrdersConfig{}.New(c) }

// Orders is the orders service.
type Orders struct {
	client client.Client
	cfg    OrdersConfig
}

// Place reserves the items, charges the customer and publishes
// OrderCreated. When the charge fails, Place voids it (a charge that timed
// out may have been made, or may still be on its way), releases the
// reservation, and fails the order with the charge's error code. Placing
// an order again (same OrderID) reserves and charges nothing more.
func (o *Orders) Place(ctx context.Context, req *PlaceRequest, rsp *PlaceReply) error {
	switch {
	case req.OrderID == "":
		return errors.NewBadRequest("orders", "place: empty order_id")
	case req.Qty <= 0:
		return errors.NewBadRequest("orders", "place %s: qty must be positive, got %d", req.OrderID, req.Qty)
	case req.Amount < 0:
		return errors.NewBadRequest("orders", "place %s: amount must not be negative, got %d", req.OrderID, req.Amount)
	}
	var reserved ReserveReply
	err := o.client.Call(ctx, "inventory", "Inventory.Reserve",
		&ReserveRequest{OrderID: req.OrderID, SKU: req.SKU, Qty: req.Qty}, &reserved, client.WithIdempotent())
	if err != nil {
		return errors.Wrapf("orders", errors.CodeOf(err), err, "place %s: reserve", req.OrderID)
	}
	charged, err := o.charge(ctx, req)
	if err != nil {
		if uerr := o.undo(ctx, req.OrderID); uerr != nil {
			err = fmt.Errorf("%w (and undo: %w)", err, uerr)
		}
		return errors.Wrapf("orders", errors.CodeOf(err), err, "place %s: charge", req.OrderID)
	}
	ev := &OrderCreated{OrderID: req.OrderID, Customer: req.Customer, SKU: req.SKU, Qty: req.Qty}
	if err := o.client.Publish(ctx, TopicOrderCreated, ev); err != nil {
		return errors.Wrapf("orders", errors.Unavailable, err, "place %s: publish", req.OrderID)
	}
	rsp.OrderID, rsp.ChargeID = req.OrderID, charged.ChargeID
	return nil
}

// charge charges the order within the payment timeout; the order ID is
// the idempotency key, so the call may be retried.
func (o *Orders) charge(ctx context.Context, req *PlaceRequest) (ChargeReply, error) {
	ctx, cancel := context.WithTimeout(ctx, o.cfg.PaymentTimeout)
	defer cancel()
	var rsp ChargeReply
	err := o.client.Call(ctx, "payments", "Payments.Charge",
		&ChargeRequest{OrderID: req.OrderID, Customer: req.Customer, Amount: req.Amount}, &rsp, client.WithIdempotent())
	return rsp, err
}

// undo voids the order's payment and releases its stock, with a ctx of
// its own: the order's may be the one that ran out.
func (o *Orders) undo(ctx context.Context, orderID string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.cfg.UndoTimeout)
	defer cancel()
	verr := o.client.Call(ctx, "payments", "Payments.Void", &VoidRequest{OrderID: orderID}, &VoidReply{}, client.WithIdempotent())
	rerr := o.client.Call(ctx, "inventory", "Inventory.Release", &ReleaseRequest{OrderID: orderID}, &ReleaseReply{}, client.WithIdempotent())
	return stderrors.Join(verr, rerr)
}
