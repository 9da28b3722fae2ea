// Package nats is a broker.Broker on NATS core (github.com/nats-io/nats.go).
//
// A topic is a NATS subject and a broker.Message a NATS message: its Header
// travels as NATS headers (case preserved, one value per key; a received
// header with several values yields the first) and its Body as the payload
// (an empty body arrives as nil). Header keys must be HTTP token characters
// and values may hold neither CR nor LF nor leading or trailing blanks,
// which NATS cannot carry exactly; Publish rejects them. Subscribe accepts
// NATS wildcards ("*" for a token, a final ">" for the rest); the handler
// gets the concrete subject. Queue groups are NATS queue subscriptions.
//
// # Delivery
//
// Publish returns once the server has the message (it flushes: a PING
// after the message, which the server answers once it has read
// everything before), as broker.Broker says: a message published to a
// server that went away fails Publish instead of being lost silently. That
// costs each Publish a round trip to the server. Delivery is at most once,
// as in NATS core. Each Subscription owns one
// goroutine that takes messages from a synchronous NATS subscription and
// calls the handler, so a handler is never called concurrently with itself
// and a slow handler never blocks the NATS reader; messages wait in
// nats.go's per-subscription pending queue (512Ki messages or 64 MiB by
// default), and beyond that NATS drops them as a slow consumer and the
// error hook (WithErrorHandler) hears of it. Handler errors and recovered
// panics go to the error hook too.
//
// Subscription.Close drains: it removes the interest at the server, lets
// the handler process every message already received — with a live ctx —
// and then cancels the handler's ctx and waits for its goroutine. The drain
// is bounded by WithDrainTimeout (5s by default); a handler that waits for
// its ctx therefore delays Close by that much. Broker.Close closes every
// subscription the same way; when the broker dialled the connection it then
// flushes what was published and closes the connection (nats.Conn.Drain).
//
// # Connection and reconnects
//
// New dials and owns its connection; NewConn wraps a connection the caller
// owns (Close then leaves it open). New's connection reconnects forever
// (MaxReconnects -1) every 2s (nats.go's ReconnectWait) unless
// WithNATSOptions says otherwise. While it is disconnected:
//
//   - The message of a Publish waits in nats.go's reconnect buffer (8 MiB,
//     nats.ReconnectBufSize) to be sent after the reconnect, and Publish
//     waits, bounded by its ctx, until the server has it; when the buffer
//     is full, or disabled (ReconnectBufSize(-1)), Publish fails at once
//     with an error wrapping broker.ErrUnavailable. Subscribers on other
//     connections that have not reconnected yet miss such messages.
//   - Subscriptions survive: nats.go subscribes again on reconnect, and
//     messages published meanwhile by others are lost (at most once).
//   - Subscribe succeeds without the usual round trip; the interest reaches
//     the server on reconnect.
//
// When the connection is closed for good (reconnects exhausted) Publish and
// Subscribe fail with errors wrapping broker.ErrUnavailable. A server that
// cannot be reached by New is broker.ErrUnavailable too.
package nats
