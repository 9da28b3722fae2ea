package server

import (
	"context"
	"time"
)

// Stop shares its ctx's budget (the time left until its deadline) among
// its phases, so that one slow phase cannot take all of it: deregistering
// gets at most deregisterShare of it (a registry that hangs delays the
// drain by that much, not by the whole budget), and the drain ends
// abandonGraceShare of it (at most maxAbandonGrace) before the deadline,
// which leaves the handlers it cancels time to return and tell their
// callers that the server stopped. Without a deadline each phase is
// bounded only by the ctx.
const (
	deregisterShare   = 4  // 1/4 of the budget
	abandonGraceShare = 10 // 1/10 of the budget
	maxAbandonGrace   = time.Second
)

// stopPlan is when each phase of one Stop must end.
type stopPlan struct {
	ctx      context.Context
	deadline time.Time
	hasDL    bool
	grace    time.Duration
}

func planStop(ctx context.Context) stopPlan {
	p := stopPlan{ctx: ctx}
	p.deadline, p.hasDL = ctx.Deadline()
	if p.hasDL {
		p.grace = min(time.Until(p.deadline)/abandonGraceShare, maxAbandonGrace)
	}
	return p
}

// deregister is the ctx of the deregistration: the plan's ctx, ending
// after its share of the budget.
func (p stopPlan) deregister() (context.Context, context.CancelFunc) {
	if !p.hasDL {
		return context.WithCancel(p.ctx)
	}
	return context.WithTimeout(p.ctx, time.Until(p.deadline)/deregisterShare)
}

// drain is the ctx of the drain: the plan's ctx, ending the abandon
// grace before its deadline.
func (p stopPlan) drain() (context.Context, context.CancelFunc) {
	if !p.hasDL || p.grace <= 0 {
		return context.WithCancel(p.ctx)
	}
	return context.WithDeadline(p.ctx, p.deadline.Add(-p.grace))
}
