package client

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/microsim/microsim/internal/ctxwake"
)

// callFrame is what a unary call allocates up front: its Request and, for
// a caller that set no deadline, the context carrying the client's default
// timeout, in one allocation. With WithCallReuse, the client keeps a frame
// once its call returned and nothing can touch it any more (reusable),
// for a later call.
type callFrame struct {
	req Request
	ctx deadlineCtx
}

// reusable reports whether nothing can touch f any more, now that its call
// returned: its deadline's timer was stopped before it fired, and no
// context derived from its ctx is still tied to it (every AfterFunc
// registration was stopped, and none of their stops is under way, see
// deadlineCtx.AfterFunc).
func (f *callFrame) reusable() bool { return !f.ctx.tainted.Load() }

// reset makes f a frame for a new call. Its Request's timeout buffer is
// neither written nor used again: a string over it may be held by
// whoever received the call's headers (a server's wrapper may keep them),
// so its later calls format their Micro-Timeout afresh.
func (f *callFrame) reset() {
	f.ctx = deadlineCtx{}
	r := &f.req
	r.Service, r.Endpoint, r.ContentType, r.Body, r.Idempotent = "", "", "", nil, false
	r.opts, r.codec, r.body = CallOptions{}, nil, nil
	r.timeoutClaimed.Store(true)
	r.firstAttempt = attemptCtx{}
	r.firstAttemptClaimed.Store(false)
}

// deadlineCtx is the context of a call whose caller's ctx has no deadline
// and can never be cancelled (its Done is nil: context.Background, values
// over it, context.WithoutCancel): the parent plus the client's default
// timeout. It behaves as context.WithTimeout(parent, d) would: Deadline
// reports the deadline, Done is closed and Err returns
// context.DeadlineExceeded once it passes, and Err returns
// context.Canceled once the call has ended (end); context.Cause returns
// Err; Value is the parent's. Contexts derived from it (an attempt
// timeout, a hedged call's attempts) and context.AfterFunc register with
// it through AfterFunc, as they would with a standard context, without a
// goroutine each.
//
// What it saves: context.WithTimeout costs five allocations (the context,
// its timer and timer func, the cancel func and the Done channel). A
// deadlineCtx lives in the call's callFrame and borrows its timer from the
// client's pool, so it costs only its Done channel, made on first use.
// None of its methods block.
type deadlineCtx struct {
	parent   context.Context
	deadline time.Time
	exp      *expiry // the borrowed timer; nil once returned

	mu    sync.Mutex
	done  chan struct{} // made on first Done; closed once ended is set
	after []*afterFunc  // registered by AfterFunc, run once ended is set
	wake  chan struct{} // registered by WakeOnEnd, sent a token once ended is set

	// ended is what Err returns (endedCanceled, endedDeadline), set once
	// under mu; Err, asked several times by every call, reads it without
	// the lock.
	ended atomic.Uint32
	// tainted is set once something may touch c after its call returned:
	// its timer fired, or an AfterFunc func was started or a stop was
	// under way when it ended. Its frame is then not reused.
	tainted atomic.Bool
}

// The values of deadlineCtx.ended.
const (
	endedNot = iota
	endedCanceled
	endedDeadline
)

// afterFunc is one AfterFunc registration. claimed is set by whichever
// comes first, its stop or the end of its ctx, which then alone deals with
// it (see deadlineCtx.AfterFunc).
type afterFunc struct {
	f       func()
	claimed atomic.Bool
}

// expiry is a reusable timer that ends the deadlineCtx it is lent to when
// the deadline passes. It is lent again only after a Stop that reported
// the timer stopped before firing, so a firing never meets a new target.
type expiry struct {
	t      *time.Timer
	target atomic.Pointer[deadlineCtx]
}

func newExpiry() *expiry {
	e := &expiry{}
	e.t = time.AfterFunc(time.Hour, e.fire)
	e.t.Stop()
	return e
}

func (e *expiry) fire() {
	if c := e.target.Swap(nil); c != nil {
		c.cancel(context.DeadlineExceeded)
	}
}

// start makes c the context of a call with parent (whose Done must be nil)
// and timeout d (positive), arming a timer from pool. The call must call
// end once it has returned. It does not block.
func (c *deadlineCtx) start(parent context.Context, d time.Duration, pool *sync.Pool) {
	c.parent = parent
	c.deadline = time.Now().Add(d)
	e, _ := pool.Get().(*expiry)
	if e == nil {
		e = newExpiry()
	}
	c.exp = e
	e.target.Store(c)
	e.t.Reset(d)
}

// end cancels c (context.Canceled, unless the deadline passed first) and
// returns its timer to pool (start's) when it did not fire.
func (c *deadlineCtx) end(pool *sync.Pool) {
	if e := c.exp; e != nil {
		c.exp = nil
		if e.t.Stop() {
			e.target.Store(nil)
			pool.Put(e)
		} else {
			// It fired (or is firing: its cancel may still run). Left to
			// the GC, with c.
			c.tainted.Store(true)
		}
	}
	c.cancel(context.Canceled)
}

// cancel ends c once, with err (context.Canceled or
// context.DeadlineExceeded), closes Done and runs the registered funcs.
func (c *deadlineCtx) cancel(err error) {
	c.mu.Lock()
	if c.ended.Load() != endedNot {
		c.mu.Unlock()
		return
	}
	if err == context.DeadlineExceeded {
		c.ended.Store(endedDeadline)
	} else {
		c.ended.Store(endedCanceled)
	}
	if c.done != nil {
		close(c.done)
	}
	if c.wake != nil {
		select {
		case c.wake <- struct{}{}:
		default:
		}
		c.wake = nil
	}
	after := c.after
	c.after = nil
	if len(after) > 0 {
		// A func started here reads c (the context package's asks its
		// Err and Cause); a registration already claimed has a stop under
		// way, which takes mu once this returns.
		c.tainted.Store(true)
	}
	c.mu.Unlock()
	for _, a := range after {
		if a.claimed.CompareAndSwap(false, true) {
			go a.f()
		}
	}
}

// Deadline implements context.Context.
func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Done implements context.Context.
func (c *deadlineCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.ended.Load() != endedNot {
			close(c.done)
		}
	}
	return c.done
}

// Err implements context.Context.
func (c *deadlineCtx) Err() error {
	switch c.ended.Load() {
	case endedCanceled:
		return context.Canceled
	case endedDeadline:
		return context.DeadlineExceeded
	}
	return nil
}

var _ ctxwake.Waker = (*deadlineCtx)(nil)

// WakeOnEnd implements ctxwake.Waker: a transport's wait for the reply
// receives from its own channel alone, and c makes no Done channel.
func (c *deadlineCtx) WakeOnEnd(ch chan struct{}) bool {
	c.mu.Lock()
	ok := c.wake == nil && c.ended.Load() == endedNot
	if ok {
		c.wake = ch
	}
	c.mu.Unlock()
	return ok
}

// StopWake implements ctxwake.Waker.
func (c *deadlineCtx) StopWake(ch chan struct{}) {
	c.mu.Lock()
	if c.wake == ch {
		c.wake = nil
	}
	c.mu.Unlock()
}

// Value implements context.Context.
func (c *deadlineCtx) Value(key any) any { return c.parent.Value(key) }

// AfterFunc arranges for f to run in its own goroutine once c is done, as
// context.AfterFunc does; stop deregisters f and reports whether it did so
// before f was started. The context package uses it to tie contexts
// derived from c to c without a goroutine each.
//
// stop may be called late and more than once (a derived timer's cancel
// calls it from its own goroutine, and again when the deriving code
// cancels): only its first call, when it comes before c ended, touches c,
// and it is done with c once it released mu. So once c has ended with no
// registration left (none claimed by a stop still to take mu), nothing
// touches c any more; otherwise c is tainted.
func (c *deadlineCtx) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	c.mu.Lock()
	if c.ended.Load() != endedNot {
		c.tainted.Store(true)
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	c.after = append(c.after, a)
	c.mu.Unlock()
	return func() bool {
		if !a.claimed.CompareAndSwap(false, true) {
			return false // stopped before, or started by the end of c
		}
		c.mu.Lock()
		if i := slices.Index(c.after, a); i >= 0 {
			c.after = slices.Delete(c.after, i, i+1)
		}
		c.mu.Unlock()
		return true
	}
}

// String describes c as the context package describes its own contexts.
func (c *deadlineCtx) String() string {
	return "client.deadlineCtx(" + c.deadline.String() + ")"
}
