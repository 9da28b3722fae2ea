package shop

// TopicOrderCreated is the topic of OrderCreated events.
const TopicOrderCreated = "order.created"

// PlaceRequest is an order. OrderID is chosen by the caller and makes
// placing the same order twice safe.
type PlaceRequest struct {
	OrderID  string `json:"order_id"`
	Customer string `json:"customer"`
	SKU      string `json:"sku"`
	Qty      int    `json:"qty"`
	// Amount is the price in cents.
	Amount int64 `json:"amount"`
}

// PlaceReply is a placed order.
type PlaceReply struct {
	OrderID  string `json:"order_id"`
	ChargeID string `json:"charge_id"`
}

// ReserveRequest reserves Qty of SKU for an order.
type ReserveRequest struct {
	OrderID string `json:"order_id"`
	SKU     string `json:"sku"`
	Qty     int    `json:"qty"`
}

// ReserveReply says how many are left after the reservation.
type ReserveReply struct {
	Left int `json:"left"`
}

// ReleaseRequest gives back an order's reservation.
type ReleaseRequest struct {
	OrderID string `json:"order_id"`
}

// ReleaseReply says whether there was a reservation to give back.
type ReleaseReply struct {
	Released bool `json:"released"`
}

// ChargeRequest charges a customer for an order; OrderID is the
// idempotency key.
type ChargeRequest struct {
	OrderID  string `json:"order_id"`
	Customer string `json:"customer"`
	Amount   int64  `json:"amount"`
}

// ChargeReply is the charge, new or, for a repeated request, the first.
type ChargeReply struct {
	ChargeID string `json:"charge_id"`
	// Replayed is true when the order had been charged already.
	Replayed bool `json:"replayed"`
}

// VoidRequest voids an order's payment.
type VoidRequest struct {
	OrderID string `json:"order_id"`
}

// VoidReply says whether a charge was refunded.
type VoidReply struct {
	Refunded bool `json:"refunded"`
}

// OrderCreated is the event of a placed order.
type OrderCreated struct {
	OrderID  string `json:"order_id"`
	Customer string `json:"customer"`
	SKU      string `json:"sku"`
	Qty      int    `json:"qty"`
}

// GetShipmentRequest asks for an order's shipment.
type GetShipmentRequest struct {
	OrderID string `json:"order_id"`
}

// Shipment is the shipment of one order.
type Shipment struct {
	OrderID string `json:"order_id"`
	SKU     string `json:"sku"`
	Qty     int    `json:"qty"`
}
