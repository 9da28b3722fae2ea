package server

import (
	"context"
	stderrors "errors"
	"fmt"
	"maps"
	"reflect"
	"runtime/debug"
	"time"

	"github.com/microsim/microsim/framework/codec"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/internal/wire"
	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/transport"
)

// call is one accepted stream being served (or refused).
type call struct {
	sock    transport.Socket
	cancel  context.CancelFunc
	refusal bool // refused for overload; not counted against the limit
}

// acceptLoop accepts streams until the listener closes. When it ends
// without Stop (the listener failed, for example because the host crashed)
// it logs, signals the heartbeat through r.acceptFailed and returns: it
// never spins on a failing listener.
func (s *server) acceptLoop(r *running) {
	defer close(r.acceptDone)
	for {
		sock, err := r.l.Accept(r.ctx)
		if err != nil {
			if !r.stopping.Load() {
				s.opts.log.Error("server: accept failed; no longer serving", "service", s.name, "addr", r.addr, "err", err)
				close(r.acceptFailed)
			}
			return
		}
		s.track(r, sock)
	}
}

// track registers sock as a call and starts its goroutine. It does not block.
func (s *server) track(r *running, sock transport.Socket) {
	ctx, cancel := context.WithCancel(r.ctx)
	c := &call{sock: sock, cancel: cancel}
	s.mu.Lock()
	if max := s.opts.maxInFlight; max > 0 && s.limited >= max {
		c.refusal = true
	} else {
		s.limited++
	}
	s.calls[c] = struct{}{}
	s.mu.Unlock()
	if c.refusal {
		go s.refuse(ctx, c)
		return
	}
	go s.serve(ctx, c)
}

// finish ends a call: it forgets it and signals a waiting Stop when the
// last one is gone.
func (s *server) finish(c *call) {
	c.cancel()
	_ = c.sock.Close()
	s.mu.Lock()
	delete(s.calls, c)
	if !c.refusal {
		s.limited--
	}
	if len(s.calls) == 0 && s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
	s.mu.Unlock()
}

// refuse reads the request and replies Unavailable without running
// anything. It reads first so that the client's Send cannot fail on a
// stream the server already closed (the client would take that for a
// broken connection) and so that the reply can name the endpoint.
func (s *server) refuse(ctx context.Context, c *call) {
	defer s.finish(c)
	m, err := c.sock.Recv(ctx)
	if err != nil {
		return
	}
	ep := m.Header[wire.Endpoint]
	s.opts.log.Warn("server: overloaded; request refused", "service", s.name, "endpoint", ep, "remote", c.sock.RemoteAddr(), "max", s.opts.maxInFlight)
	s.replyError(ctx, c, errors.New(s.name, errors.Unavailable, "server overloaded: %d requests in flight; %s not run", s.opts.maxInFlight, ep))
}

// serve reads a request, dispatches it and replies.
func (s *server) serve(ctx context.Context, c *call) {
	defer s.finish(c)
	m, err := c.sock.Recv(ctx)
	if err != nil {
		s.opts.log.Debug("server: stream ended before a request arrived", "service", s.name, "remote", c.sock.RemoteAddr(), "err", err)
		return
	}
	ep, cd, timeout, e := s.route(m)
	if e != nil {
		s.replyError(ctx, c, e)
		return
	}
	if timeout != nil && *timeout <= 0 {
		s.replyError(ctx, c, errors.New(s.name, errors.DeadlineExceeded,
			"deadline of the request to %s passed before it arrived (Micro-Timeout %v)", ep.name, *timeout))
		return
	}
	hctx := metadata.NewContext(ctx, metadata.FromHeader(m.Header))
	if timeout != nil {
		var cancel context.CancelFunc
		hctx, cancel = context.WithTimeout(hctx, *timeout)
		defer cancel()
	}
	req := &Request{
		Service:     s.name,
		Endpoint:    ep.name,
		ContentType: m.Header[wire.ContentType],
		Header:      maps.Clone(m.Header),
	}
	if ep.stream {
		s.serveStream(ctx, hctx, c, ep, cd, req, m)
		return
	}
	s.serveUnary(ctx, hctx, c, ep, cd, req, m)
}

// route checks the request headers: the endpoint, the content type and the
// timeout (nil when the request has none).
func (s *server) route(m *transport.Message) (*endpoint, codec.Codec, *time.Duration, *errors.Error) {
	svc, name := m.Header[wire.Service], m.Header[wire.Endpoint]
	if svc != s.name {
		return nil, nil, nil, errors.NewNotFound(s.name, "service %q is not served here (this is %q; endpoint %q)", svc, s.name, name)
	}
	ep := s.endpoints[name]
	if ep == nil {
		return nil, nil, nil, errors.NewNotFound(s.name, "endpoint %q not found on service %q", name, s.name)
	}
	if !ep.stream && m.Header[wire.StreamOpen] != "" {
		return nil, nil, nil, errors.NewBadRequest(s.name, "endpoint %s is unary; it cannot be called as a stream", name)
	}
	ct := m.Header[wire.ContentType]
	cd, err := s.opts.codecs.Lookup(ct)
	if err != nil {
		return nil, nil, nil, errors.NewBadRequest(s.name, "request to %s: %v", name, err)
	}
	v, ok := m.Header[wire.Timeout]
	if !ok {
		return ep, cd, nil, nil
	}
	d, err := wire.ParseTimeout(v)
	if err != nil {
		return nil, nil, nil, errors.NewBadRequest(s.name, "request to %s: %v", name, err)
	}
	return ep, cd, &d, nil
}

// serveUnary decodes the request, runs the handler and replies. ctx bounds
// the socket; hctx is the handler's.
func (s *server) serveUnary(ctx, hctx context.Context, c *call, ep *endpoint, cd codec.Codec, req *Request, m *transport.Message) {
	body := reflect.New(ep.req.Elem()).Interface()
	if err := cd.Unmarshal(m.Body, body); err != nil {
		s.replyError(ctx, c, errors.NewBadRequest(s.name, "decode request to %s as %s: %v", ep.name, cd.ContentType(), err))
		return
	}
	req.Body = body
	rsp := reflect.New(ep.rsp.Elem()).Interface()
	hctx, stopWatch := watchAbandon(ctx, hctx, c.sock)
	err := s.invoke(hctx, ep, req, rsp)
	stopWatch()
	if err != nil {
		s.replyError(ctx, c, s.handlerError(hctx, ep, err))
		return
	}
	b, err := cd.Marshal(rsp)
	if err != nil {
		s.replyError(ctx, c, errors.NewInternal(s.name, "encode response of %s as %s: %v", ep.name, cd.ContentType(), err))
		return
	}
	reply := &transport.Message{Header: map[string]string{wire.ContentType: cd.ContentType()}, Body: b}
	err = c.sock.Send(ctx, reply)
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
			s.opts.log.Error("server: handler panicked", "service", s.name, "endpoint", ep.name, "panic", p, "stack", string(debug.Stack()))
			err = errors.NewInternal(s.name, "handler %s panicked: %v", ep.name, p)
		}
	}()
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
	h := make(map[string]string, 4)
	errors.ToHeader(e, h)
	h[wire.End] = "1"
	if err := c.sock.Send(ctx, &transport.Message{Header: h}); err != nil {
		s.opts.log.Debug("server: error reply not sent", "service", s.name, "error", e, "err", err)
	}
}

// wrap applies the handler wrappers to ep's innermost HandlerFunc.
func (s *server) wrap(ep *endpoint) {
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

// watchAbandon returns a handler ctx that is cancelled (cause ErrCallerGone)
// when the caller ends the stream while the handler runs, so abandoned work
// stops instead of running to completion. In the unary protocol nothing
// follows the request, so any Recv result is the caller going away. stop
// ends the watch and waits for its goroutine.
func watchAbandon(ctx, hctx context.Context, sock transport.Socket) (context.Context, func()) {
	hctx, cancelHandler := context.WithCancelCause(hctx)
	wctx, cancelWatch := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := sock.Recv(wctx); wctx.Err() == nil {
			cancelHandler(fmt.Errorf("%w (%v)", ErrCallerGone, err))
		}
	}()
	return hctx, func() {
		cancelWatch()
		<-done
		cancelHandler(nil)
	}
}
