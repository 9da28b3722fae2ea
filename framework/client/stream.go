package client

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/codec"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/internal/wire"
	"github.com/microsim/microsim/framework/transport"
)

// Stream implements Client. Opening the stream is retried like a call's
// attempts, but only while nothing has been sent (the failure is
// Unavailable); once open, a stream is never retried.
func (c *rpcClient) Stream(ctx context.Context, service, endpoint string, opts ...CallOption) (Stream, error) {
	if c.closed.Load() {
		return nil, errors.Wrapf(errorID, errors.Unavailable, ErrClosed, "stream %s.%s", service, endpoint)
	}
	co := c.callOptions(opts)
	r := &Request{Service: service, Endpoint: endpoint, ContentType: co.ContentType, opts: co}
	return c.stream(ctx, r)
}

// doStream opens the stream of r (c.stream, unwrapped).
func (c *rpcClient) doStream(ctx context.Context, r *Request) (Stream, error) {
	service, endpoint, co := r.Service, r.Endpoint, r.opts
	cd, err := c.opts.codecs.Lookup(r.ContentType)
	if err != nil {
		return nil, errors.Wrapf(errorID, errors.BadRequest, err, "stream %s.%s", service, endpoint)
	}
	pick, err := c.sel.Select(ctx, service, co.SelectOptions...)
	if err != nil {
		return nil, selectError(r, err)
	}
	defer pick.Release() // the stream, once open, needs no other node
	if c.budget != nil {
		c.budget.deposit()
	}
	for attempt := 1; ; attempt++ {
		if err := deadlineError(ctx, r); err != nil {
			return nil, err
		}
		node, err := pick.Next()
		if err != nil {
			return nil, selectError(r, err)
		}
		done := c.begin(service, node)
		s, err := c.openClientStream(ctx, node.Address, r, cd)
		done(err)
		if err == nil {
			return s, nil
		}
		if errors.CodeOf(err).Retry() != errors.RetrySafe {
			return nil, err
		}
		wait, retry := c.retry(ctx, r, attempt, err)
		if !retry {
			return nil, err
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return nil, ctxError(ctx, r, node.Address, err)
		}
	}
}

func (c *rpcClient) openClientStream(ctx context.Context, addr string, r *Request, cd codec.Codec) (*clientStream, error) {
	conn, sock, err := c.openStream(ctx, addr, r)
	if err != nil {
		return nil, err
	}
	left, hasDL, err := timeLeft(ctx, r)
	if err != nil {
		sock.Close()
		return nil, err
	}
	m := c.requestMessage(ctx, r, left, hasDL)
	m.Header[wire.StreamOpen] = "1"
	err = sock.Send(ctx, m)
	c.putMessage(m) // Send copied it
	if err != nil {
		sock.Close()
		c.evictBroken(addr, conn, err)
		return nil, sendError(ctx, r, addr, err)
	}
	return &clientStream{ctx: ctx, sock: sock, codec: cd, req: r, addr: addr}, nil
}

type clientStream struct {
	ctx   context.Context
	sock  transport.Socket
	codec codec.Codec
	req   *Request
	addr  string

	mu     sync.Mutex // guards done, err and closed; held while Recv decodes
	done   bool
	err    error // the final result once the trailer (or a failure) was seen
	closed bool  // Close was called
}

func (s *clientStream) Send(msg any) error {
	body, err := s.codec.Marshal(msg)
	if err != nil {
		return errors.Wrapf(errorID, errors.BadRequest, err, "stream %s.%s: encode", s.req.Service, s.req.Endpoint)
	}
	if err := s.sock.Send(s.ctx, &transport.Message{Body: body}); err != nil {
		if cerr := ctxError(s.ctx, s.req, s.addr, err); cerr != nil {
			return cerr
		}
		return errors.Wrapf(errorID, errors.Interrupted, err, "stream %s.%s: send", s.req.Service, s.req.Endpoint)
	}
	return nil
}

func (s *clientStream) Recv(msg any) error {
	s.mu.Lock()
	if s.done {
		err := s.err
		s.mu.Unlock()
		return err
	}
	s.mu.Unlock()
	m, err := s.sock.Recv(s.ctx)
	if err != nil {
		return s.finish(recvError(s.ctx, s.req, s.addr, err))
	}
	// m is lent until the socket's next Recv or Close: decode it under mu,
	// which Close takes, so that a Close from another goroutine does not
	// end the lease while it is read. msg keeps nothing of it (a codec's
	// Unmarshal copies).
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return recvError(s.ctx, s.req, s.addr, transport.ErrClosed) // as the socket's Recv after Close
	}
	if m.Header[wire.End] != "" {
		err := error(io.EOF)
		if e := errors.FromHeader(m.Header); e != nil {
			err = e
		}
		if !s.done {
			s.done, s.err = true, err
		}
		return s.err
	}
	if err := s.codec.Unmarshal(m.Body, msg); err != nil {
		return errors.Wrapf(errorID, errors.Internal, err, "stream %s.%s: decode", s.req.Service, s.req.Endpoint)
	}
	return nil
}

func (s *clientStream) finish(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done {
		s.done, s.err = true, err
	}
	return s.err
}

func (s *clientStream) CloseSend() error { return s.sock.CloseSend() }

func (s *clientStream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return s.sock.Close()
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
