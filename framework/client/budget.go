package client

import (
	"fmt"
	"sync"
	"time"
)

// RetryBudget bounds the retries and hedges of all the calls of one client,
// so that retries cannot multiply an outage (Finagle's RetryBudget, Envoy's
// retry budget, gRPC's retry throttling). The budget is the last stage of
// the retry pipeline: a retry happens only when the call's RetryPolicy
// (the client's, a per-call one from WithCallRetry, or DefaultPolicy) asked
// for it AND the budget grants it, so custom policies are bounded too. A
// retry the budget refuses ends the call with the last attempt's error and
// is counted in Stats.RetriesDenied; a hedge it refuses is not sent
// (Stats.HedgesDenied). Stream opening retries draw on it as well.
//
// Every call (or stream) started deposits Ratio; every retry or hedge
// withdraws one.
// Over the sliding Window (kept as 10 buckets of Window/10, so the window
// slides in steps of a tenth), a retry is granted while
//
//	retries in window (this one included) <= Ratio × calls in window + MinPerSecond × seconds of window
//
// where the seconds of the window count only time since the client was
// created: MinPerSecond is a rate that accrues, up to one Window's worth.
// Because each window's allowance is earned in that window, the bound also
// holds for any stretch of time since the client was created:
// retries+hedges <= Ratio × calls + MinPerSecond × elapsed seconds. A
// consequence: a client that was just created (in virtual time, at the
// very instant it was created) has earned no minimum yet and may retry
// only once Ratio × calls reaches one. Both bounds are exact, also under
// concurrency.
//
// The zero RetryBudget allows no retries at all; DefaultRetryBudget is
// Finagle's default. Without WithRetryBudget a client has no budget.
type RetryBudget struct {
	// Ratio is the retries earned per call started (0.2: one retry per
	// five calls). Not negative.
	Ratio float64
	// MinPerSecond is the retries earned per second regardless of traffic,
	// so that a client with little traffic can still retry. Not negative.
	MinPerSecond float64
	// Window is how long calls and retries count (0 means 10s). It is
	// divided in 10 buckets, so it must be at least 10ns.
	Window time.Duration
}

// DefaultRetryBudget returns Finagle's default: 20% of calls plus 10
// retries a second, over 10 seconds.
func DefaultRetryBudget() RetryBudget {
	return RetryBudget{Ratio: 0.2, MinPerSecond: 10, Window: DefaultBudgetWindow}
}

// DefaultBudgetWindow is the Window of a RetryBudget that sets none.
const DefaultBudgetWindow = 10 * time.Second

// budgetBuckets is the number of buckets of a budget's window.
const budgetBuckets = 10

func (rb RetryBudget) validate() (RetryBudget, error) {
	if rb.Window == 0 {
		rb.Window = DefaultBudgetWindow
	}
	switch {
	case rb.Ratio < 0 || rb.Ratio != rb.Ratio:
		return rb, fmt.Errorf("client: retry budget ratio must not be negative, got %v", rb.Ratio)
	case rb.MinPerSecond < 0 || rb.MinPerSecond != rb.MinPerSecond:
		return rb, fmt.Errorf("client: retry budget min per second must not be negative, got %v", rb.MinPerSecond)
	case rb.Window < budgetBuckets:
		return rb, fmt.Errorf("client: retry budget window must be at least %dns, got %v", budgetBuckets, rb.Window)
	}
	return rb, nil
}

// budget is a RetryBudget at work: a ring with one slot per bucket, each
// holding the calls and granted retries of its period (periods number the
// buckets since the budget was created); a slot is reset when its period
// comes round again. No goroutine runs; time is time.Now (virtual in a
// synctest bubble). A mutex guards the ring for a few arithmetic
// operations (and, for a withdrawal, a sum over the 10 slots) and is never
// held across a wait; reading the clock under it gives the events one
// order, which is what makes the bounds above exact.
type budget struct {
	ratio    float64
	minPerNs float64 // MinPerSecond per nanosecond
	width    int64   // bucket width, ns
	start    time.Time

	mu   sync.Mutex
	ring [budgetBuckets]budgetSlot
}

type budgetSlot struct {
	period         int64
	calls, retries int64
}

func newBudget(rb RetryBudget) *budget {
	return &budget{
		ratio:    rb.Ratio,
		minPerNs: rb.MinPerSecond / float64(time.Second),
		width:    int64(rb.Window / budgetBuckets),
		start:    time.Now(),
	}
}

// slotLocked returns the slot of the current period, resetting it if it
// held an older one, the time since start and the period.
func (b *budget) slotLocked() (*budgetSlot, int64, int64) {
	t := int64(time.Since(b.start))
	p := t / b.width
	s := &b.ring[p%budgetBuckets]
	if s.period != p {
		*s = budgetSlot{period: p}
	}
	return s, t, p
}

// deposit records a call. It does not block.
func (b *budget) deposit() {
	b.mu.Lock()
	s, _, _ := b.slotLocked()
	s.calls++
	b.mu.Unlock()
}

// withdraw asks for one retry (or hedge) and reports whether it was
// granted. It does not block.
func (b *budget) withdraw() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, t, p := b.slotLocked()
	first := max(p-budgetBuckets+1, 0)
	var calls, retries int64
	for i := range b.ring {
		if x := &b.ring[i]; x.period >= first {
			calls += x.calls
			retries += x.retries
		}
	}
	if float64(retries+1) > b.ratio*float64(calls)+b.minPerNs*float64(t-first*b.width) {
		return false
	}
	s.retries++
	return true
}
