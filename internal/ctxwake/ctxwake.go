// Package ctxwake lets a wait inside the framework receive from its own
// channel alone, instead of selecting on that channel and its context's
// Done channel, when the context can send the channel a token as it ends.
//
// The client's default-timeout context (client.deadlineCtx) is such a
// Waker: a unary call over the memory or TCP transport, whose reply wait
// is the one wait of the call, then makes no Done channel (an allocation)
// and its wait is a plain receive, not a two-way select. Any other context
// is waited on as before.
package ctxwake

import "context"

// Waker is a context that can wake one channel when it ends.
type Waker interface {
	// WakeOnEnd registers ch (capacity 1) to be sent one token, without
	// blocking, once the context ends, and reports true. It reports false
	// and registers nothing when the context has ended or holds another
	// channel already.
	WakeOnEnd(ch chan struct{}) bool
	// StopWake unregisters ch if it is registered. Once it returns, the
	// context sends ch nothing; a token it sent before may be in ch.
	StopWake(ch chan struct{})
}

// Wait blocks until ch (capacity 1) receives a token or ctx ends. It
// returns nil for a token and ctx.Err() for the end of ctx; when both
// happened, either. Through a Waker, a token the ending ctx sent may be
// left in ch when Wait returns: whoever waits on ch must take a token for
// "look again", not for an event.
func Wait(ctx context.Context, ch chan struct{}) error {
	if w, ok := ctx.(Waker); ok && w.WakeOnEnd(ch) {
		<-ch
		w.StopWake(ch)
		return ctx.Err()
	}
	done := ctx.Done()
	if done == nil {
		<-ch
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-done:
		return ctx.Err()
	}
}
