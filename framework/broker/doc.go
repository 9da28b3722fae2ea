// Package broker is asynchronous publish/subscribe messaging.
//
// Delivery semantics every implementation honours (checked by brokertest):
//
//   - At most once: a message is delivered to each plain subscription of its
//     topic at most once; a handler's error does not cause redelivery.
//   - Queue groups: subscriptions that name the same queue on the same topic
//     share its messages; each message goes to exactly one live member.
//   - Asynchronous: Publish returns once the broker has accepted the message;
//     handlers run on the broker's goroutines, never on the publisher's.
//   - Ordered per subscription: one subscription sees the messages of one
//     publisher in publication order, one at a time (a handler is never
//     called concurrently with itself for the same subscription).
//   - Subscription.Close stops delivery and waits for a running handler to
//     return; Broker.Close closes every subscription made through it.
package broker

//go:generate go tool mockgen -typed -destination=brokermock/brokermock.go -package=brokermock . Broker,Subscription
