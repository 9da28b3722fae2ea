package server

import (
	"context"
	stderrors "errors"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/codec"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/internal/lograte"
	"github.com/microsim/microsim/framework/internal/wire"
	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/transport"
)

// call is one stream being served (or refused). Its callSlot is reused
// from one stream to the next.
type call struct {
	sock transport.Socket
	// prev and next link the calls in flight (server.calls), under the
	// server's mu.
	prev, next *call

	mu      sync.Mutex
	h       *handlerCtx // the handler's ctx, once the request is routed
	cut     bool        // Stop abandoned the call
	refusal bool        // refused for overload; not counted against the limit
}

// setHandler records the handler ctx of the call, for Stop to cancel.
func (c *call) setHandler(h *handlerCtx) {
	c.mu.Lock()
	c.h = h
	cut := c.cut
	c.mu.Unlock()
	if cut {
		h.abandon()
	}
}

// abandon cancels the call's handler, now or once it has one. It does not block.
func (c *call) abandon() {
	c.mu.Lock()
	c.cut = true
	h := c.h
	c.mu.Unlock()
	if h != nil {
		h.abandon()
	}
}

// callSlot is what a call borrows from its running server's pool
// (running.slots): the call and the serving state, reused from one stream
// to the next.
type callSlot struct {
	c call
	w serving
}

// serveLoop runs the listener's Serve until the listener closes: by Stop,
// or because it failed (for example because the host crashed), which it
// logs before it ends the heartbeat and deregisters the node
// (listenerFailed). It closes r.served when Serve returned, once every
// stream it handed over was served.
func (s *server) serveLoop(r *running) {
	err := r.l.Serve(func(sock transport.Socket) { s.handleStream(r, sock) })
	s.mu.Lock()
	failed := !r.stopping.Load()
	r.failed = failed
	s.mu.Unlock()
	close(r.served)
	if failed {
		s.opts.log.Error("server: accept failed; no longer serving", "service", s.name, "addr", r.addr, "err", err)
		s.listenerFailed(r)
	}
}

// handleStream serves one stream the listener handed over, on whatever
// goroutine the transport chose (Listener.Serve's handle), and closes it.
// It registers the call under s.mu after checking stopping, which Stop
// sets before it closes the listener and drains: either Stop's drain
// waits for the call, or the call is refused (Unavailable: nothing ran,
// the client may retry elsewhere).
func (s *server) handleStream(r *running, sock transport.Socket) {
	s.mu.Lock()
	if r.stopping.Load() || r.failed {
		s.mu.Unlock()
		s.refuseStopping(r.base, sock)
		return
	}
	// A slot from free first, then from the pool (running.free).
	var slot *callSlot
	if n := len(r.free); n > 0 {
		slot = r.free[n-1]
		r.free[n-1] = nil
		r.free = r.free[:n-1]
	} else if slot, _ = r.slots.Get().(*callSlot); slot == nil {
		slot = new(callSlot)
	}
	c := &slot.c
	s.admitLocked(c, sock)
	s.mu.Unlock()
	var st *callState
	if c.refusal {
		s.refuse(r.base, c)
	} else {
		st = s.serve(r, &slot.w, c)
	}
	c.end()
	if st != nil && st.free != nil {
		// The handler ended (c.end waited for the caller-gone watch's
		// callback) and nothing of the server refers to its ctx.
		st.free()
	}
	s.mu.Lock()
	s.forgetLocked(c)
	if len(r.free) < maxFreeSlots {
		r.free = append(r.free, slot)
		slot = nil
	}
	s.mu.Unlock()
	if slot != nil {
		r.slots.Put(slot)
	}
}

// serving is a call slot's reusable state.
type serving struct {
	reply  transport.Message // the unary reply; Send copies it
	header map[string]string // the reply's header: the codec table's, read-only
	ct     string            // header's content type
	buf    []byte            // the reply's encoding, when the codec is a codec.Appender
	last   lastRoute
}

// lastRoute is what route found for the slot's last request: the next
// request through the slot most likely names the same endpoint and
// content type, which are then found without a map lookup (the server's
// endpoints are fixed once it has started, its codecs from the start).
type lastRoute struct {
	endpoint string
	ep       *endpoint
	ct       string
	cd       codec.Codec
}

// maxKeptBuf bounds the encoding buffer a slot keeps between requests:
// room for a 64 KiB payload with its encoding's few extra bytes and
// append's rounding up (a bound of exactly 64 KiB kept none of them).
const maxKeptBuf = 128 << 10

// marshal encodes a reply into the slot's buffer when the codec can
// append; the buffer is reused once Send (which copies) returned.
func (w *serving) marshal(cd codec.Codec, v any) ([]byte, error) {
	if a, ok := cd.(codec.Appender); ok {
		return a.MarshalAppend(w.buf[:0], v)
	}
	return cd.Marshal(v)
}

// keep keeps b, returned by marshal and sent, for the next reply.
func (w *serving) keep(b []byte) {
	if cap(b) <= maxKeptBuf && cap(b) >= cap(w.buf) {
		w.buf = b[:0]
	}
}

// admitLocked registers the call serving sock, refused for overload when
// too many are in flight. Called under s.mu.
func (s *server) admitLocked(c *call, sock transport.Socket) {
	c.sock = sock
	c.refusal = false
	if max := s.maxInFlight; max > 0 && s.limited >= max {
		c.refusal = true
		s.refused.Add(1)
	} else {
		s.limited++
	}
	c.prev, c.next = nil, s.calls
	if s.calls != nil {
		s.calls.prev = c
	}
	s.calls = c
}

// end ends a call's handler ctx and closes its socket.
func (c *call) end() {
	c.mu.Lock()
	h := c.h
	c.h, c.cut = nil, false
	c.mu.Unlock()
	if h != nil {
		h.end()
	}
	_ = c.sock.Close()
}

// forgetLocked forgets an ended call and signals a waiting Stop when the
// last one is gone. Called under s.mu.
func (s *server) forgetLocked(c *call) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		s.calls = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.prev, c.next = nil, nil
	if !c.refusal {
		s.limited--
	}
	if s.calls == nil && s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
	c.sock = nil
}

// refuse reads the request and replies Unavailable without running
// anything. It reads first so that the client's Send cannot fail on a
// stream the server already closed (the client would take that for a
// broken connection) and so that the reply can name the endpoint.
func (s *server) refuse(ctx context.Context, c *call) {
	m, err := c.sock.Recv(ctx)
	if err != nil {
		return
	}
	ep := m.Header[wire.Endpoint]
	s.logs.Log(ctx, s.opts.log, slog.LevelWarn, "server: overloaded; request refused", "service", s.name, "endpoint", ep, "remote", c.sock.RemoteAddr(), "max", s.opts.maxInFlight)
	s.replyError(ctx, c, errors.New(s.name, errors.Unavailable, "server overloaded: %d requests in flight; %s not run", s.opts.maxInFlight, ep))
}

// refuseStopping answers a stream that reached a stopping server, reading
// its request first as refuse does, with Unavailable, and closes it.
func (s *server) refuseStopping(ctx context.Context, sock transport.Socket) {
	defer sock.Close()
	m, err := sock.Recv(ctx)
	if err != nil {
		return
	}
	s.sendError(ctx, sock, errors.New(s.name, errors.Unavailable, "server stopping; %s not run", m.Header[wire.Endpoint]))
}

// serve reads a request, dispatches it and replies. r.base bounds the
// socket (Stop's drain closes the socket of an abandoned call); the
// handler's ctx (handlerCtx) derives from r.hbase. It returns the call's
// state, if it made one, for its free once the call has ended.
func (s *server) serve(r *running, w *serving, c *call) *callState {
	ctx := r.base
	m, err := c.sock.Recv(ctx)
	if err != nil {
		s.opts.log.Debug("server: stream ended before a request arrived", "service", s.name, "remote", c.sock.RemoteAddr(), "err", err)
		return nil
	}
	rt, e := s.route(m, &w.last)
	if e != nil {
		s.replyError(ctx, c, e)
		return nil
	}
	ep, cd := rt.ep, rt.cd
	if rt.hasTimeout && rt.timeout <= 0 {
		s.replyError(ctx, c, errors.New(s.name, errors.DeadlineExceeded,
			"deadline of the request to %s passed before it arrived (Micro-Timeout %v)", ep.name, rt.timeout))
		return nil
	}
	// The Request and the handler's ctx live as long as each other: one
	// allocation, which for a unary endpoint also holds the request and
	// response values (endpoint.newArgs).
	var st *callState
	var body, rsp any
	if ep.stream {
		st = &callState{}
	} else {
		body, rsp, st = ep.newArgs()
	}
	hctx := &st.h
	hctx.init(r.hbase, c.sock, rt.timeout, rt.hasTimeout, m.Header, rt.reserved, !ep.stream)
	c.setHandler(hctx)
	// The request message is lent until the call's socket is closed (or,
	// for a stream, receives again): its header map is the Request's
	// while nothing can keep the Request longer. A wrapper may keep it
	// (and a stream's wrapper reads it after the handler received more),
	// so with wrappers the Request gets a copy. Its strings are anyone's
	// to keep.
	header := m.Header
	if s.wrapped {
		header = maps.Clone(header)
	}
	req := &st.req
	*req = Request{
		Service:     s.name,
		Endpoint:    rt.name, // ep.name's value, without reading ep's second line
		ContentType: rt.ct,
		Header:      header,
	}
	if ep.stream {
		s.serveStream(ctx, hctx, c, ep, cd, req, m)
	} else {
		s.serveUnary(ctx, hctx, w, c, ep, cd, req, m, body, rsp)
	}
	return st
}

// callState is what a call allocates for its handler: the Request and the
// handler's ctx.
type callState struct {
	req Request
	h   handlerCtx
	// free, when not nil, gives the call's arguments back to their pool
	// once the call has ended (UnaryPooled).
	free func()
}

// hasMetadata reports whether h holds a header that is not reserved;
// reserved of its keys are known to be (route's count).
func hasMetadata(h map[string]string, reserved int) bool {
	if len(h) <= reserved {
		return false
	}
	for k := range h {
		if !metadata.IsReserved(k) {
			return true
		}
	}
	return false
}

// routed is what route found in a request's headers.
type routed struct {
	ep         *endpoint
	name       string // the endpoint's name, as the request gave it
	cd         codec.Codec
	ct         string        // the content type
	timeout    time.Duration // when hasTimeout
	hasTimeout bool          // the request has a Micro-Timeout
	reserved   int           // how many of the headers are reserved ones route read
}

// route checks the request headers: the endpoint, the content type and the
// timeout. It counts the distinct reserved headers it found, so that
// hasMetadata need not look at each header when there are no others.
func (s *server) route(m *transport.Message, last *lastRoute) (rt routed, e *errors.Error) {
	h := m.Header
	svc, name := h[wire.Service], h[wire.Endpoint]
	if svc != s.name {
		return rt, errors.NewNotFound(s.name, "service %q is not served here (this is %q; endpoint %q)", svc, s.name, name)
	}
	ep := last.ep
	if ep == nil || name != last.endpoint {
		if ep = s.endpoints[name]; ep == nil {
			return rt, errors.NewNotFound(s.name, "endpoint %q not found on service %q", name, s.name)
		}
		last.endpoint, last.ep = name, ep
	}
	// The service's name and a registered endpoint's are not empty: both
	// headers are present.
	rt.reserved = 2
	open, hasOpen := h[wire.StreamOpen]
	if !ep.stream && open != "" {
		return rt, errors.NewBadRequest(s.name, "endpoint %s is unary; it cannot be called as a stream", name)
	}
	ct, hasCT := h[wire.ContentType]
	cd := last.cd
	if cd == nil || ct != last.ct {
		var err error
		if cd, err = s.opts.codecs.Lookup(ct); err != nil {
			return rt, errors.NewBadRequest(s.name, "request to %s: %v", name, err)
		}
		last.ct, last.cd = ct, cd
	}
	rt.ep, rt.name, rt.cd, rt.ct = ep, name, cd, ct
	rt.reserved += count(hasOpen) + count(hasCT)
	v, ok := h[wire.Timeout]
	if !ok {
		return rt, nil
	}
	d, err := wire.ParseTimeout(v)
	if err != nil {
		return rt, errors.NewBadRequest(s.name, "request to %s: %v", name, err)
	}
	rt.timeout, rt.hasTimeout = d, true
	rt.reserved++
	return rt, nil
}

// count is 1 for true.
func count(b bool) int {
	if b {
		return 1
	}
	return 0
}

// serveUnary decodes the request into body, runs the handler with rsp and
// replies. ctx bounds the socket; hctx is the handler's.
func (s *server) serveUnary(ctx context.Context, hctx *handlerCtx, w *serving, c *call, ep *endpoint, cd codec.Codec, req *Request, m *transport.Message, body, rsp any) {
	// m is lent: the request value must not point into its body, which
	// the transport reuses once the call's socket is closed. A codec's
	// Unmarshal copies (the Codec contract), so the handler may keep the
	// request.
	if err := cd.Unmarshal(m.Body, body); err != nil {
		s.replyError(ctx, c, errors.NewBadRequest(s.name, "decode request to %s as %s: %v", ep.name, cd.ContentType(), err))
		return
	}
	req.Body = body
	err := s.invoke(hctx, ep, req, rsp)
	hctx.end()
	if err != nil {
		s.replyError(ctx, c, s.handlerError(hctx, ep, err))
		return
	}
	b, err := w.marshal(cd, rsp)
	if err != nil {
		s.replyError(ctx, c, errors.NewInternal(s.name, "encode response of %s as %s: %v", ep.name, cd.ContentType(), err))
		return
	}
	// The reply's header holds only the content type: the codec table's
	// shared map for it (Send copies it; in a world of many servers,
	// every server's replies read the same map, which stays in the CPU's
	// cache), kept by the slot until a reply has another content type.
	if ct := cd.ContentType(); w.header == nil || ct != w.ct {
		if w.header = s.opts.codecs.Header(ct); w.header == nil {
			w.header = map[string]string{wire.ContentType: ct}
		}
		w.ct = ct
	}
	w.reply = transport.Message{Header: w.header, Body: b}
	// The reply ends the call: the stream's end leaves in the same write
	// (the call's final Close is then a no-op).
	err = c.sock.SendClose(ctx, &w.reply)
	w.reply.Body = nil
	w.keep(b)
	if stderrors.Is(err, transport.ErrMessageTooLarge) {
		s.replyError(ctx, c, errors.New(s.name, errors.ResourceExhausted, "response of %s is too large: %v", ep.name, err))
		return
	}
	if err != nil {
		s.opts.log.Debug("server: reply not sent", "service", s.name, "endpoint", ep.name, "err", err)
	}
}

// invoke runs the wrapped handler, turning a panic into an Internal error.
func (s *server) invoke(ctx context.Context, ep *endpoint, req *Request, rsp any) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.logs.Log(ctx, s.opts.log, slog.LevelError, "server: handler panicked", "service", s.name, "endpoint", ep.name, "panic", p, "stack", lograte.Stack{})
			err = errors.NewInternal(s.name, "handler %s panicked: %v", ep.name, p)
		}
	}()
	if ep.h == nil {
		return ep.unary.impl.call(ctx, req.Body, rsp)
	}
	return ep.h(ctx, req, rsp)
}

// handlerError maps a handler's error to the error sent to the client.
func (s *server) handlerError(hctx context.Context, ep *endpoint, err error) *errors.Error {
	var e *errors.Error
	if stderrors.As(err, &e) {
		return e
	}
	if cerr := hctx.Err(); cerr != nil &&
		(stderrors.Is(err, context.DeadlineExceeded) || stderrors.Is(err, context.Canceled)) {
		if stderrors.Is(context.Cause(hctx), ErrCallAbandoned) {
			return errors.New(s.name, errors.Interrupted, "handler %s: the server stopped before it finished (the call was abandoned at the end of the stop budget)", ep.name)
		}
		code := errors.Canceled
		if stderrors.Is(cerr, context.DeadlineExceeded) {
			code = errors.DeadlineExceeded
		}
		return errors.Wrapf(s.name, code, err, "handler %s", ep.name)
	}
	return errors.Wrap(s.name, errors.Internal, err)
}

// replyError sends e as the call's final message (error headers and
// Micro-End: 1, so that it also ends a streaming call).
func (s *server) replyError(ctx context.Context, c *call, e *errors.Error) {
	s.sendError(ctx, c.sock, e)
}

// sendError sends e on sock as replyError does.
func (s *server) sendError(ctx context.Context, sock transport.Socket, e *errors.Error) {
	h := make(map[string]string, 4)
	errors.ToHeader(e, h)
	h[wire.End] = "1"
	if err := sock.Send(ctx, &transport.Message{Header: h}); err != nil {
		s.opts.log.Debug("server: error reply not sent", "service", s.name, "error", e, "err", err)
	}
}

// wrap applies the handler wrappers to ep's innermost HandlerFunc.
func (s *server) wrap(ep *endpoint) {
	if len(s.opts.hWrappers) == 0 && !ep.stream {
		ep.h = nil // invoke calls ep.unary.impl itself
		return
	}
	h := ep.handlerFunc()
	for i := len(s.opts.hWrappers) - 1; i >= 0; i-- {
		h = s.opts.hWrappers[i](h)
	}
	ep.h = h
}

// ErrCallerGone is the cause of a unary handler's ctx cancellation when the
// caller ended the stream before the reply: it gave up, a hedge it sent
// elsewhere won, or its connection broke. Read it with context.Cause.
var ErrCallerGone = stderrors.New("server: caller ended the call before the reply")
