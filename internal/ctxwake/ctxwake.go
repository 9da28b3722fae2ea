// Package ctxwake lets a wait inside the framework receive from its own
// channel alone, instead of selecting on that channel and its context's
// Done channel, when the context can send the channel a token as it ends.
//
// The client's default-timeout context (client.deadlineCtx) is such a
// Waker: a unary call over the memory or TCP transport, whose reply wait
// is the one wait of the call, then makes no Done channel (an allocation)
// and its wait is a plain receive, not a two-way select. Any other context
// is waited on as before.
//
// A CancelWaker wakes a channel when it is cancelled and leaves its
// deadline to the waiter: a Sleeper, which has a timer anyway, arms it for
// the earlier of its sleep and the deadline. The server's handler context
// is one, so a handler that sleeps on a Sleeper (the simulator's
// synthetic endpoints) never builds its context chain (a cancel context,
// a deadline context and its timer, a Done channel), and is still woken
// when its caller goes away or its server abandons the call.
package ctxwake

import (
	"context"
	"time"
)

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

// CancelWaker is a context that can wake one channel when it is
// cancelled — not when its deadline passes: a waiter with a timer of its
// own (a Sleeper) arms it for the earlier of its wait and the context's
// Deadline, and so needs neither the context's Done channel nor a timer
// of the context's.
type CancelWaker interface {
	// WakeOnCancel registers ch (capacity 1) to be sent one token, without
	// blocking, once the context is cancelled, and reports true. It
	// reports false and registers nothing when the context has ended or
	// holds another channel already.
	WakeOnCancel(ch chan struct{}) bool
	// StopWake unregisters ch if it is registered. Once it returns, the
	// context sends ch nothing; a token it sent before may be in ch.
	StopWake(ch chan struct{})
}

// Sleeper waits out durations cut short by a context's end, one wait at
// a time, on a timer and a channel it keeps from one wait to the next.
// The zero Sleeper is ready to use.
type Sleeper struct {
	t  *time.Timer
	ch chan struct{} // WakeOnCancel's
}

// Sleep waits for d, or until ctx ends: it returns nil once d has passed,
// or ctx's error (context.DeadlineExceeded when ctx's deadline comes
// first; a deadline at the very instant d ends counts as first). Through
// a CancelWaker, ctx's Done channel is never asked for.
func (s *Sleeper) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cw, ok := ctx.(CancelWaker)
	if !ok {
		return s.sleepDone(ctx, d)
	}
	wait, byDeadline := d, false
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left <= wait {
			wait, byDeadline = left, true
		}
	}
	if wait <= 0 {
		if byDeadline {
			return context.DeadlineExceeded
		}
		return nil
	}
	if s.ch == nil {
		s.ch = make(chan struct{}, 1)
	}
	if !cw.WakeOnCancel(s.ch) {
		return s.sleepDone(ctx, d)
	}
	s.arm(wait)
	select {
	case <-s.t.C:
		cw.StopWake(s.ch)
		s.drain()
		if byDeadline {
			return context.DeadlineExceeded
		}
		return nil
	case <-s.ch:
		cw.StopWake(s.ch)
		// Since Go 1.23 a stopped timer's channel holds no stale value.
		s.t.Stop()
		if err := ctx.Err(); err != nil {
			return err
		}
		return context.Canceled
	}
}

// sleepDone is Sleep on ctx's Done channel.
func (s *Sleeper) sleepDone(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	s.arm(d)
	select {
	case <-s.t.C:
		return nil
	case <-ctx.Done():
		s.t.Stop()
		return ctx.Err()
	}
}

// arm starts the timer for d.
func (s *Sleeper) arm(d time.Duration) {
	if s.t == nil {
		s.t = time.NewTimer(d)
		return
	}
	s.t.Reset(d)
}

// drain takes a token the context sent before StopWake, if any.
func (s *Sleeper) drain() {
	select {
	case <-s.ch:
	default:
	}
}
