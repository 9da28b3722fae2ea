package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/internal/ctxwake"
)

// handlerCtx is the ctx a handler gets. It is built the first time it is
// asked for its Done channel or a Value (through which context.Cause,
// metadata and derived contexts look): a cancellable root over the
// server's running ctx (running.hbase, which is never cancelled), then the
// request's deadline (context.WithDeadline, computed when the request
// arrived), then the request's metadata. Until then nobody could tell a
// difference, so a handler that never looks at its ctx costs no context
// chain and no timer. Deadline and Err need no build: Err reports the
// cancellation recorded so far, or the deadline once it has passed.
//
// The ctx is cancelled when the handler has returned (end), when Stop
// abandons the call (abandon), and — for a unary handler — with cause
// ErrCallerGone when the caller ends the stream while the handler runs, so
// abandoned work stops instead of running to completion. In the unary
// protocol nothing follows the request, so anything that would end a Recv
// is the caller going away. That watch is armed when the ctx is built, or
// when a waiter registers (WakeOnCancel): a callback of the socket
// (Socket.NotifyRecv), no goroutine. Every cancellation goes through
// cancelWith, which records its cause (applied when the ctx is built, if
// it is not yet), cancels the built ctx and wakes a registered waiter.
//
// It is a ctxwake.CancelWaker: a handler that sleeps (ctxwake.Sleeper, as
// the simulator's synthetic endpoints do) waits on its own timer and
// channel, and the ctx is never built.
type handlerCtx struct {
	base     context.Context // running.hbase
	deadline time.Time
	hasDL    bool
	md       metadata.MD // the request's metadata, taken on arrival; nil: none

	watch bool             // unary: watch for the caller going away
	sock  transport.Socket // watched

	built atomic.Bool // ctx is set
	mu    sync.Mutex  // guards what follows, and serialises build, end and WakeOnCancel
	ctx   context.Context
	stop  context.CancelFunc // the deadline's; nil without one
	ended bool               // the handler returned
	armed bool               // NotifyRecv was called on sock
	// goneFn is gone, bound when first armed: a ctx reused by a later
	// call (UnaryPooled) keeps it, and its arming allocates nothing.
	goneFn func(error)

	// wmu guards what a cancellation sets. The socket's callback (gone)
	// takes it, not mu: end holds mu while StopNotify waits for a running
	// callback.
	wmu    sync.Mutex
	cancel context.CancelCauseFunc // the root's, once built
	cause  error                   // the first cancellation's cause (errExpired: the deadline had passed)
	wake   chan struct{}           // WakeOnCancel's
}

// errExpired records a cancellation that came after the deadline had
// passed: the ctx ended by its deadline (Err: context.DeadlineExceeded).
var errExpired = errors.New("server: handler ctx: deadline passed")

// newHandlerCtx returns the handler ctx of a request over base, with the
// given timeout (when hasTimeout) and headers, on sock.
func newHandlerCtx(base context.Context, sock transport.Socket, timeout time.Duration, hasTimeout bool, header map[string]string, watch bool) *handlerCtx {
	h := &handlerCtx{}
	h.init(base, sock, timeout, hasTimeout, header, 0, watch)
	return h
}

// init sets up a zero handlerCtx as newHandlerCtx does; reserved of the
// header's keys are known to be reserved ones.
func (h *handlerCtx) init(base context.Context, sock transport.Socket, timeout time.Duration, hasTimeout bool, header map[string]string, reserved int, watch bool) {
	h.base, h.watch, h.sock = base, watch, sock
	if hasTimeout {
		h.deadline, h.hasDL = time.Now().Add(timeout), true
	}
	if hasMetadata(header, reserved) {
		h.md = metadata.FromHeader(header)
	}
}

// Deadline is the request's, without building the ctx.
func (h *handlerCtx) Deadline() (time.Time, bool) { return h.deadline, h.hasDL }

func (h *handlerCtx) Done() <-chan struct{} { return h.use().Done() }

// Err is the built ctx's, or, before it is built, context.Canceled once a
// cancellation was recorded and context.DeadlineExceeded once the
// deadline passed: what the built ctx would say.
func (h *handlerCtx) Err() error {
	if h.built.Load() {
		return h.ctx.Err()
	}
	h.wmu.Lock()
	cause := h.cause
	h.wmu.Unlock()
	switch {
	case cause == errExpired:
		return context.DeadlineExceeded
	case cause != nil:
		return context.Canceled
	case h.pastDeadline():
		return context.DeadlineExceeded
	}
	return nil
}

// pastDeadline reports whether the request has a deadline and it has come.
func (h *handlerCtx) pastDeadline() bool { return h.hasDL && !time.Now().Before(h.deadline) }

func (h *handlerCtx) Value(key any) any { return h.use().Value(key) }

func (h *handlerCtx) String() string { return "server.handlerCtx" }

// use returns the built ctx, building it the first time.
func (h *handlerCtx) use() context.Context {
	if h.built.Load() {
		return h.ctx
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.built.Load() {
		return h.ctx
	}
	ctx, cancel := context.WithCancelCause(h.base)
	h.wmu.Lock()
	h.cancel = cancel
	cause := h.cause
	h.wmu.Unlock()
	// A cancellation recorded before the deadline passed is applied
	// before the deadline ctx is made, which then inherits it: Err keeps
	// what it said before the build.
	if cause != nil && cause != errExpired {
		cancel(cause)
	}
	if h.hasDL {
		ctx, h.stop = context.WithDeadline(ctx, h.deadline)
	}
	// The base carries empty metadata (running.hbase).
	if h.md != nil {
		ctx = metadata.NewContext(ctx, h.md)
	}
	h.ctx = ctx
	h.built.Store(true)
	if cause == nil && h.watch && !h.armed && !h.ended {
		h.arm()
	}
	return ctx
}

// arm starts the caller-gone watch. Called under h.mu.
func (h *handlerCtx) arm() {
	h.armed = true
	if h.goneFn == nil {
		h.goneFn = h.gone
	}
	h.sock.NotifyRecv(h.goneFn)
}

// gone cancels the handler: its caller went away (err is what Recv saw).
func (h *handlerCtx) gone(err error) {
	h.cancelWith(fmt.Errorf("%w (%v)", ErrCallerGone, err))
}

// cancelWith cancels the ctx with cause, unless it was cancelled before:
// the built ctx now, an unbuilt one when it is built (a cancellation after
// the deadline is recorded as the deadline's). A registered waiter gets
// its token. It does not block.
func (h *handlerCtx) cancelWith(cause error) {
	h.wmu.Lock()
	if h.cause == nil {
		if h.cancel == nil && h.pastDeadline() {
			cause = errExpired
		}
		h.cause = cause
	}
	cancel := h.cancel
	if h.wake != nil {
		select {
		case h.wake <- struct{}{}:
		default:
		}
		h.wake = nil
	}
	h.wmu.Unlock()
	if cancel != nil && cause != errExpired {
		cancel(cause)
	}
}

var _ ctxwake.CancelWaker = (*handlerCtx)(nil)

// WakeOnCancel implements ctxwake.CancelWaker. It arms the caller-gone
// watch, as building the ctx would.
func (h *handlerCtx) WakeOnCancel(ch chan struct{}) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended {
		return false
	}
	h.wmu.Lock()
	ok := h.cause == nil && h.wake == nil
	if ok {
		h.wake = ch
	}
	h.wmu.Unlock()
	if ok && h.watch && !h.armed {
		h.arm()
	}
	return ok
}

// StopWake implements ctxwake.CancelWaker.
func (h *handlerCtx) StopWake(ch chan struct{}) {
	h.wmu.Lock()
	if h.wake == ch {
		h.wake = nil
	}
	h.wmu.Unlock()
}

// end is called once the handler returned, and again when the call is
// finished: it stops the watch (waiting for a running callback) and
// cancels the ctx, which stays usable (and cancelled) for whoever kept it.
// Idempotent.
func (h *handlerCtx) end() {
	h.mu.Lock()
	if h.ended {
		h.mu.Unlock()
		return
	}
	h.ended = true
	if h.armed {
		h.sock.StopNotify()
	}
	h.sock = nil // nothing touches it once ended; the server may free it
	stop := h.stop
	h.mu.Unlock()
	h.cancelWith(context.Canceled)
	if stop != nil {
		stop()
	}
}

// abandon cancels the ctx of a call Stop gives up on (now, or when it is
// built). It does not block.
func (h *handlerCtx) abandon() {
	h.cancelWith(ErrCallAbandoned)
}
