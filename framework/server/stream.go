package server

import (
	"context"
	stderrors "errors"
	"io"

	"github.com/microsim/microsim/framework/codec"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/internal/wire"
	"github.com/microsim/microsim/framework/transport"
)

// serverStream is the Stream a stream handler gets.
type serverStream struct {
	ctx      context.Context // the handler's
	sock     transport.Socket
	codec    codec.Codec
	id       string // the server's name, the ID of its errors
	endpoint string

	// first is the opening message when it carries a payload (it has no
	// Micro-Stream-Open header); Recv returns it first. Only Recv touches it.
	first *transport.Message
}

func (st *serverStream) Context() context.Context { return st.ctx }

// Send encodes msg and sends it as a data message (no headers). A message
// too large for the transport fails with a ResourceExhausted *errors.Error;
// the stream stays usable.
func (st *serverStream) Send(msg any) error {
	b, err := st.codec.Marshal(msg)
	if err != nil {
		return errors.Wrapf(st.id, errors.Internal, err, "stream %s: encode", st.endpoint)
	}
	err = st.sock.Send(st.ctx, &transport.Message{Body: b})
	switch {
	case err == nil:
		return nil
	case stderrors.Is(err, transport.ErrMessageTooLarge):
		return errors.Wrapf(st.id, errors.ResourceExhausted, err, "stream %s: send", st.endpoint)
	case st.ctx.Err() != nil:
		return st.ctxError("send")
	}
	return errors.Wrapf(st.id, errors.Interrupted, err, "stream %s: send", st.endpoint)
}

// Recv decodes the client's next message into msg. It returns io.EOF once
// the client half-closed and every message before was received.
func (st *serverStream) Recv(msg any) error {
	m := st.first
	st.first = nil
	if m == nil {
		var err error
		if m, err = st.sock.Recv(st.ctx); err != nil {
			switch {
			case stderrors.Is(err, io.EOF):
				return io.EOF
			case st.ctx.Err() != nil:
				return st.ctxError("receive")
			}
			return errors.Wrapf(st.id, errors.Interrupted, err, "stream %s: receive", st.endpoint)
		}
	}
	// m is lent until the next Recv: msg keeps nothing of it (a codec's
	// Unmarshal copies).
	if err := st.codec.Unmarshal(m.Body, msg); err != nil {
		return errors.Wrapf(st.id, errors.BadRequest, err, "stream %s: decode message as %s", st.endpoint, st.codec.ContentType())
	}
	return nil
}

// ctxError is the error of a Send or Recv that failed because the
// handler's ctx ended: DeadlineExceeded or Canceled.
func (st *serverStream) ctxError(op string) error {
	code := errors.Canceled
	if stderrors.Is(st.ctx.Err(), context.DeadlineExceeded) {
		code = errors.DeadlineExceeded
	}
	return errors.Wrapf(st.id, code, context.Cause(st.ctx), "stream %s: %s", st.endpoint, op)
}

// serveStream runs a stream handler, then sends the trailer: Micro-End: 1
// and, if the handler failed, the error headers. ctx bounds the socket;
// hctx is the handler's.
func (s *server) serveStream(ctx, hctx context.Context, c *call, ep *endpoint, cd codec.Codec, req *Request, m *transport.Message) {
	st := &serverStream{ctx: hctx, sock: c.sock, codec: cd, id: s.name, endpoint: ep.name}
	if m.Header[wire.StreamOpen] == "" {
		st.first = m
	}
	req.Stream = st
	if err := s.invoke(hctx, ep, req, nil); err != nil {
		s.replyError(ctx, c, s.handlerError(hctx, ep, err))
		return
	}
	if err := c.sock.Send(ctx, &transport.Message{Header: map[string]string{wire.End: "1"}}); err != nil {
		s.opts.log.Debug("server: stream trailer not sent", "service", s.name, "endpoint", ep.name, "err", err)
	}
}
