package client

import (
	"context"
	stderrors "errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
)

// HedgePolicy configures hedging (backup requests, "The Tail at Scale";
// Kitex's backup requests): when an attempt of a call marked idempotent
// has not answered after the hedge delay, the client sends the same
// request to another node, without cancelling the first. The first
// successful answer wins; the other attempts are then cancelled and Call
// returns once they have all ended.
//
// The delay is Delay, or, with Percentile set, that percentile of the
// recent latencies of successful attempts to the same service (measured by
// this client; once it has MinSamples of them; until then Delay, and no
// hedging if Delay is 0). See Stats for the counts.
//
// Rules: only calls marked idempotent (WithIdempotent) are hedged; a hedge
// goes only to a node the call has not tried (never a second time to the
// same node); each hedge withdraws from the retry budget, and a hedge the
// budget refuses is not sent; at most MaxHedges hedges per call. When every
// attempt in flight has failed, the normal retry path applies (RetryPolicy,
// budget, backoff), and the next attempt may be hedged again while hedges
// remain. The attempt number the RetryPolicy sees counts every attempt
// sent, hedges included, so DefaultPolicy.MaxAttempts bounds them all.
//
// Attempts that lose are cancelled: their ctx is cancelled (its
// context.Cause is ErrHedgeLost) and the selector hears of them (Tracker
// done, or Mark) with an *errors.Error of code errors.Canceled wrapping
// ErrHedgeLost, whatever error the cancelled attempt itself returned. A
// selector should treat Canceled as saying nothing about the node: neither
// a success nor a failure (release its in-flight count, leave failure
// accrual, ejection and latency alone). An attempt that answered before it
// could be cancelled reports its own outcome.
//
// A hedged attempt other than a call's first decodes its reply into a new
// value of rsp's type; if it wins, that value is copied into *rsp (a
// shallow copy) after every attempt has ended. rsp must therefore be nil or
// a non-nil pointer for a call to be hedged; otherwise it is not.
type HedgePolicy struct {
	// Delay is the fixed hedge delay, or the delay used until Percentile
	// has MinSamples samples. Not negative.
	Delay time.Duration
	// Percentile, in (0, 1], makes the delay that percentile of recent
	// latencies (0.95: the delay after which 5% of calls are still
	// waiting). 0 means Delay only.
	Percentile float64
	// MinSamples is how many latencies Percentile needs (0 means
	// DefaultHedgeMinSamples).
	MinSamples int
	// MaxHedges is the most backup requests per call; 0 disables hedging.
	MaxHedges int
}

// DefaultHedgeMinSamples is the MinSamples of a HedgePolicy that sets none.
const DefaultHedgeMinSamples = 100

// ErrHedgeLost is the cause of the cancellation of an attempt that lost to
// another attempt of the same call.
var ErrHedgeLost = stderrors.New("client: attempt lost to another attempt of the call")

func (p HedgePolicy) validate() error {
	switch {
	case p.Delay < 0:
		return fmt.Errorf("client: hedge delay must not be negative, got %v", p.Delay)
	case p.Percentile < 0 || p.Percentile > 1 || p.Percentile != p.Percentile:
		return fmt.Errorf("client: hedge percentile must be in (0, 1] (or 0 for none), got %v", p.Percentile)
	case p.MinSamples < 0:
		return fmt.Errorf("client: hedge min samples must not be negative, got %d", p.MinSamples)
	case p.MaxHedges < 0:
		return fmt.Errorf("client: max hedges must not be negative, got %d", p.MaxHedges)
	case p.MaxHedges > 0 && p.Delay == 0 && p.Percentile == 0:
		return fmt.Errorf("client: hedging needs a delay or a percentile")
	}
	return nil
}

// hedgeable reports whether a call with reply value rsp can be hedged.
func hedgeable(rsp any) bool {
	if rsp == nil {
		return true
	}
	v := reflect.ValueOf(rsp)
	return v.Kind() == reflect.Pointer && !v.IsNil()
}

// hedgeDelay is the current delay of p for r's service; 0 means no hedge.
func (c *rpcClient) hedgeDelay(r *Request, p *HedgePolicy, est *latencies) time.Duration {
	if est != nil {
		min := p.MinSamples
		if min == 0 {
			min = DefaultHedgeMinSamples
		}
		if d, ok := est.percentile(p.Percentile, min); ok {
			return d
		}
	}
	return p.Delay
}

type attemptResult struct {
	err   error
	rsp   any // what the attempt decoded into
	hedge bool
}

// hedgedCall is one hedged call in progress. Only the goroutine of Call
// touches its fields; attempts report on results.
type hedgedCall struct {
	c       *rpcClient
	r       *Request
	rsp     any
	p       *HedgePolicy
	est     *latencies
	actx    context.Context // the attempts' ctx, cancelled when the call ends
	results chan attemptResult
	wg      sync.WaitGroup

	inflight, sent, hedges int
	timer                  *time.Timer
	timerC                 <-chan time.Time // nil while no hedge is due
}

// hedgedCall runs a hedged call: attempts run in goroutines of their own
// while this one waits for their results, the hedge timer and backoffs. It
// blocks until the call's outcome and returns only after every attempt
// goroutine has returned. Only this goroutine uses pick (the attempts get
// their nodes), and it may replace *pick (see rpcClient.pick); the caller
// releases *pick after hedgedCall returned.
func (c *rpcClient) hedgedCall(ctx context.Context, r *Request, rsp any, pick *selector.Pick, p *HedgePolicy, est *latencies) error {
	actx, cancel := context.WithCancelCause(ctx)
	h := &hedgedCall{c: c, r: r, rsp: rsp, p: p, est: est, actx: actx,
		results: make(chan attemptResult, 1+p.MaxHedges)} // attempts in flight never exceed this
	defer func() {
		cancel(ErrHedgeLost)
		h.wg.Wait()
		if h.timer != nil {
			h.timer.Stop()
		}
	}()
	var (
		lastErr error
		spare   *registry.Node // picked for a hedge the budget refused
	)
	for {
		if h.inflight == 0 {
			if err := deadlineError(ctx, r); err != nil {
				return err
			}
			node := spare
			spare = nil
			if node == nil {
				var err error
				if node, err = c.pick(ctx, r, pick, lastErr != nil); err != nil {
					if lastErr != nil {
						return lastErr
					}
					return selectError(r, err)
				}
			}
			h.start(node, false)
		}
		select {
		case res := <-h.results:
			h.inflight--
			if res.err == nil {
				cancel(ErrHedgeLost)
				h.wg.Wait()
				if res.rsp != rsp {
					reflect.ValueOf(rsp).Elem().Set(reflect.ValueOf(res.rsp).Elem())
				}
				if res.hedge {
					c.stats.hedgesWon.Add(1)
				}
				return nil
			}
			lastErr = res.err
			if h.inflight > 0 {
				continue // another attempt may still answer
			}
			h.timerC = nil
			wait, ok := c.retry(ctx, r, h.sent, lastErr)
			if !ok {
				return lastErr
			}
			if sleepCtx(ctx, wait) != nil {
				return lastErr
			}
		case <-h.timerC:
			h.timerC = nil
			if deadlineError(ctx, r) != nil {
				continue // the attempts in flight end by themselves
			}
			node, err := pick.Next()
			if err != nil {
				continue // no untried node: no hedge
			}
			if c.budget != nil && !c.budget.withdraw() {
				c.stats.hedgesNo.Add(1)
				spare = node // the retry, if any, goes there
				continue
			}
			h.hedges++
			c.stats.hedges.Add(1)
			h.start(node, true)
		}
	}
}

// start sends an attempt to node in a goroutine and arms the hedge timer
// while hedges remain. The call's first attempt decodes into rsp, later
// ones into a new value of its type.
func (h *hedgedCall) start(node *registry.Node, hedge bool) {
	out := h.rsp
	if h.sent > 0 && h.rsp != nil {
		out = reflect.New(reflect.TypeOf(h.rsp).Elem()).Interface()
	}
	h.sent++
	h.inflight++
	h.wg.Add(1)
	go h.run(AttemptInfo{Number: h.sent, Hedge: hedge, Node: node}, out)
	h.timerC = nil
	if h.hedges >= h.p.MaxHedges {
		return
	}
	d := h.c.hedgeDelay(h.r, h.p, h.est)
	if d <= 0 {
		return
	}
	if h.timer == nil {
		h.timer = time.NewTimer(d)
	} else {
		h.timer.Reset(d)
	}
	h.timerC = h.timer.C
}

// run is an attempt's goroutine.
func (h *hedgedCall) run(a AttemptInfo, out any) {
	defer h.wg.Done()
	err := h.c.runAttempt(h.actx, a, h.r, out, h.est)
	h.results <- attemptResult{err: err, rsp: out, hedge: a.Hedge}
}

// lostError is what the selector hears of an attempt cancelled because
// another attempt of its call won.
func lostError(r *Request, addr string) error {
	return errors.Wrapf(errorID, errors.Canceled, ErrHedgeLost, "call %s.%s to %s", r.Service, r.Endpoint, addr)
}
