package broker

import (
	"context"
	"errors"
)

// Sentinel errors.
var (
	// ErrClosed: the broker or subscription is closed.
	ErrClosed = errors.New("broker: closed")
	// ErrUnavailable: the broker cannot be reached.
	ErrUnavailable = errors.New("broker: unavailable")
	// ErrInvalidTopic: the topic is empty or malformed.
	ErrInvalidTopic = errors.New("broker: invalid topic")
)

// Message is one published event.
type Message struct {
	Header map[string]string
	Body   []byte
}

// Handler processes one message. Its ctx is cancelled when the subscription
// closes. A returned error is reported to the broker's error hook, if any;
// it does not cause redelivery.
type Handler func(ctx context.Context, topic string, m *Message) error

// Broker publishes and subscribes. It is safe for concurrent use.
type Broker interface {
	// Publish hands m to the broker. It blocks until the broker accepted the
	// message (not until it is delivered). m is copied.
	Publish(ctx context.Context, topic string, m *Message) error
	// Subscribe starts delivering the topic's messages to h. It may block for
	// one round trip (bounded by ctx) while the broker confirms the subscription.
	Subscribe(ctx context.Context, topic string, h Handler, opts ...SubscribeOption) (Subscription, error)
	// Close closes every subscription made through this broker and waits for
	// their handlers. Idempotent.
	Close() error
}

// Subscription is a live subscription.
type Subscription interface {
	// Topic is the subscribed topic.
	Topic() string
	// Queue is the queue group, or "" for a plain subscription.
	Queue() string
	// Close stops delivery and waits for a running handler to return.
	// Messages still queued for the subscription may be dropped (memory) or
	// delivered first (NATS drains). It must not be called from the
	// subscription's own handler, which it would wait for. Idempotent.
	Close() error
}

// SubscribeOptions are the options of Subscribe.
type SubscribeOptions struct {
	// Queue names a queue group: each message goes to one member.
	Queue string
}

// SubscribeOption sets a SubscribeOptions field.
type SubscribeOption func(*SubscribeOptions)

// Queue joins the subscription to a queue group.
func Queue(name string) SubscribeOption { return func(o *SubscribeOptions) { o.Queue = name } }
