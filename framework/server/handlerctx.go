package server

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/transport"
)

// handlerCtx is the ctx a handler gets. It is built the first time it is
// asked anything but its deadline (Done, Err, Value — through which
// context.Cause, metadata and derived contexts look): a cancellable root
// over the server's running ctx (running.hbase), then the request's
// deadline (context.WithDeadline, computed when the request arrived), then
// the request's metadata. Until then nobody could tell a difference, so a
// handler that never looks at its ctx costs no context chain and no timer.
//
// The ctx is cancelled when the handler has returned (end), when Stop
// abandons the call (abandon), and — for a unary handler — with cause
// ErrCallerGone when the caller ends the stream while the handler runs, so
// abandoned work stops instead of running to completion. In the unary
// protocol nothing follows the request, so anything that would end a Recv
// is the caller going away. That watch is armed when the ctx is built: a
// callback of the socket (Socket.NotifyRecv), no goroutine. A
// cancellation that comes before the ctx is built is applied when it is.
type handlerCtx struct {
	base     context.Context // running.hbase
	deadline time.Time
	hasDL    bool
	md       metadata.MD // the request's metadata, taken on arrival; nil: none

	watch bool             // unary: watch for the caller going away
	sock  transport.Socket // watched

	built  atomic.Bool // ctx is set
	mu     sync.Mutex  // guards what follows, and serialises build with the rest
	ctx    context.Context
	cancel context.CancelCauseFunc // the root's
	stop   context.CancelFunc      // the deadline's; nil without one
	ended  bool                    // the handler returned
	cut    bool                    // Stop abandoned the call
	armed  bool                    // NotifyRecv was called on sock
}

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

func (h *handlerCtx) Err() error { return h.use().Err() }

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
	h.cancel = cancel
	if h.hasDL {
		ctx, h.stop = context.WithDeadline(ctx, h.deadline)
	}
	// The base carries empty metadata (running.hbase).
	if h.md != nil {
		ctx = metadata.NewContext(ctx, h.md)
	}
	h.ctx = ctx
	h.built.Store(true)
	switch {
	case h.cut:
		h.cancel(ErrCallAbandoned)
	case h.ended:
		h.cancel(nil)
	case h.watch:
		h.arm()
	}
	return ctx
}

// arm starts the caller-gone watch. Called under h.mu.
func (h *handlerCtx) arm() {
	h.armed = true
	h.sock.NotifyRecv(h.gone)
}

// gone cancels the handler: its caller went away (err is what Recv saw).
// It runs only once the ctx is built (the watch is armed then).
func (h *handlerCtx) gone(err error) {
	h.cancel(fmt.Errorf("%w (%v)", ErrCallerGone, err))
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
	cancel, stop := h.cancel, h.stop
	h.mu.Unlock()
	if cancel != nil {
		cancel(nil)
		if stop != nil {
			stop()
		}
	}
}

// abandon cancels the ctx of a call Stop gives up on (now, or when it is
// built). It does not block.
func (h *handlerCtx) abandon() {
	h.mu.Lock()
	h.cut = true
	cancel := h.cancel
	h.mu.Unlock()
	if cancel != nil {
		cancel(ErrCallAbandoned)
	}
}
