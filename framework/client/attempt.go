package client

import (
	"context"
	stderrors "errors"
	"fmt"
	"io"
	"time"

	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/internal/wire"
	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/transport"
)

// doAttempt is one unwrapped attempt: a stream on a pooled connection to
// addr, one request, one reply.
func (c *rpcClient) doAttempt(ctx context.Context, addr string, r *Request, rsp any) error {
	conn, sock, err := c.sendRequest(ctx, addr, r)
	if sock != nil {
		// Closing the socket ends the lease of the reply (the transport
		// reuses its memory): nothing of it is kept past the decode.
		defer sock.Close()
	}
	if err != nil {
		return err
	}
	reply, err := sock.Recv(ctx)
	if err != nil {
		c.evictBroken(addr, conn, err)
		return recvError(ctx, r, addr, err)
	}
	// The error's strings are the header's, which are the client's to keep.
	if e := errors.FromHeader(reply.Header); e != nil {
		return e
	}
	cd := r.codec
	if ct := reply.Header[wire.ContentType]; ct != "" && ct != cd.ContentType() {
		if cd, err = c.opts.codecs.Lookup(ct); err != nil {
			return errors.Wrapf(errorID, errors.Internal, err, "reply from %s.%s at %s", r.Service, r.Endpoint, addr)
		}
	}
	if rsp == nil {
		return nil
	}
	// A decoded value keeps no reference to its input (codec.Codec): the
	// reply's body is lent, and goes back to the transport at Close.
	if err := cd.Unmarshal(reply.Body, rsp); err != nil {
		return errors.Wrapf(errorID, errors.Internal, err, "decode reply from %s.%s at %s", r.Service, r.Endpoint, addr)
	}
	return nil
}

// openStream takes a pooled connection to addr and opens a stream on it.
// Every failure here happened before the request was written, so it is
// Unavailable (safe to retry); a connection that can carry no new stream is
// evicted from the pool.
func (c *rpcClient) openStream(ctx context.Context, addr string, r *Request) (transport.Conn, transport.Socket, error) {
	conn, err := c.pool.get(ctx, addr)
	if err != nil {
		return nil, nil, attemptCtxError(ctx, r, addr, "dial", err)
	}
	sock, err := conn.NewStream(ctx, nil)
	if err != nil {
		return nil, nil, c.openFailed(ctx, addr, conn, r, err)
	}
	return conn, sock, nil
}

// openFailed handles a connection that opened no stream: the error is
// Unavailable (nothing was sent), and the connection leaves the pool.
func (c *rpcClient) openFailed(ctx context.Context, addr string, conn transport.Conn, r *Request, err error) error {
	switch {
	case ctx.Err() != nil:
	case stderrors.Is(err, transport.ErrRefused):
		// The server is going away (GOAWAY, or its listener closed):
		// streams already open on the connection are still being
		// served and must not be cut. Retire it from the pool; the
		// server closes it once they end.
		c.pool.retire(addr, conn)
	default:
		c.pool.evict(addr, conn)
	}
	return attemptCtxError(ctx, r, addr, "open stream", err)
}

// sendRequest opens a stream on a pooled connection to addr and sends the
// request on it, in one step (Conn.NewStream with a first message), so
// that both leave in one write. A non-nil
// socket is the caller's to close, error or not.
func (c *rpcClient) sendRequest(ctx context.Context, addr string, r *Request) (transport.Conn, transport.Socket, error) {
	conn, err := c.pool.get(ctx, addr)
	if err != nil {
		return nil, nil, attemptCtxError(ctx, r, addr, "dial", err)
	}
	// Checked here, not before the pool (which may dial), so that the
	// time left sent to the server is read once, just before the send;
	// an attempt wrapper, or the dial, may have spent it all.
	left, hasDL, err := timeLeft(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	m := c.requestMessage(ctx, r, left, hasDL)
	m.Body = r.body
	sock, err := conn.NewStream(ctx, m)
	c.putMessage(m) // Send copied it
	if sock == nil {
		return nil, nil, c.openFailed(ctx, addr, conn, r, err)
	}
	if err != nil {
		c.evictBroken(addr, conn, err)
		return conn, sock, sendError(ctx, r, addr, err)
	}
	return conn, sock, nil
}

// evictBroken drops conn from the pool when err says the connection itself
// is gone (ErrReset), so the next attempt dials afresh. ErrClosed on a
// stream only means the peer ended that stream; the connection stays.
func (c *rpcClient) evictBroken(addr string, conn transport.Conn, err error) {
	if stderrors.Is(err, transport.ErrReset) {
		c.pool.evict(addr, conn)
	}
}

// requestMessage builds the request headers of the wire protocol, in a
// message from the client's pool: return it with putMessage once Send
// returned (Send copies it). With hasDL, left is the time left before
// ctx's deadline, read from the clock just before (timeLeft).
func (c *rpcClient) requestMessage(ctx context.Context, r *Request, left time.Duration, hasDL bool) *transport.Message {
	m, _ := c.msgs.Get().(*transport.Message)
	if m == nil {
		m = &transport.Message{Header: make(map[string]string, 4)}
	}
	h := m.Header
	metadata.ToHeader(ctx, h)
	h[wire.Service] = r.Service
	h[wire.Endpoint] = r.Endpoint
	h[wire.ContentType] = r.ContentType
	if hasDL {
		h[wire.Timeout] = c.timeoutValue(r, left)
	}
	return m
}

// maxPooledHeaders bounds the header map of a pooled message: one that
// carried much metadata is left to the GC.
const maxPooledHeaders = 16

// putMessage returns a message from requestMessage to the pool. Its
// header keeps the three keys requestMessage always sets (their values are
// replaced); anything else goes. Deleting the timeout, when that leaves
// just those three, is cheaper than clearing the map.
func (c *rpcClient) putMessage(m *transport.Message) {
	h := m.Header
	if len(h) > maxPooledHeaders {
		return
	}
	if len(h) > fixedHeaders {
		delete(h, wire.Timeout)
		if len(h) > fixedHeaders {
			clear(h)
		}
	}
	m.Body = nil
	c.msgs.Put(m)
}

// fixedHeaders is how many headers requestMessage sets on every request:
// Micro-Service, Micro-Endpoint and Micro-Content-Type.
const fixedHeaders = 3

// attemptCtxError classifies a failure that happened before the request was
// sent: the ctx's own end, or Unavailable.
func attemptCtxError(ctx context.Context, r *Request, addr, stage string, err error) error {
	if cerr := ctxError(ctx, r, addr, err); cerr != nil {
		return cerr
	}
	if stderrors.Is(err, ErrClosed) {
		return errors.Wrapf(errorID, errors.Unavailable, err, "call %s.%s", r.Service, r.Endpoint)
	}
	return errors.Wrapf(errorID, errors.Unavailable, err, "call %s.%s: %s %s", r.Service, r.Endpoint, stage, addr)
}

func sendError(ctx context.Context, r *Request, addr string, err error) error {
	if cerr := ctxError(ctx, r, addr, err); cerr != nil {
		return cerr
	}
	if stderrors.Is(err, transport.ErrMessageTooLarge) {
		return errors.Wrapf(errorID, errors.ResourceExhausted, err, "call %s.%s: request", r.Service, r.Endpoint)
	}
	// The transport did not take the request: the server cannot have seen it.
	return errors.Wrapf(errorID, errors.Unavailable, err, "call %s.%s: send to %s", r.Service, r.Endpoint, addr)
}

// errNoReply: the stream ended before a reply came; the server stopped
// while the call ran, or its handler ignored a stop and was cut off.
var errNoReply = fmt.Errorf("%w: the server ended the call without a reply (it may have stopped)", io.ErrUnexpectedEOF)

func recvError(ctx context.Context, r *Request, addr string, err error) error {
	if cerr := ctxError(ctx, r, addr, err); cerr != nil {
		return cerr
	}
	if stderrors.Is(err, transport.ErrRefused) {
		// The stream was refused before any server accepted it.
		return errors.Wrapf(errorID, errors.Unavailable, err, "call %s.%s: %s", r.Service, r.Endpoint, addr)
	}
	if stderrors.Is(err, io.EOF) {
		err = errNoReply
	}
	// The request was sent; whether it was processed is unknown.
	return errors.Wrapf(errorID, errors.Interrupted, err, "call %s.%s: awaiting reply from %s", r.Service, r.Endpoint, addr)
}

// ctxError returns the DeadlineExceeded or Canceled error when ctx is done.
func ctxError(ctx context.Context, r *Request, addr string, err error) error {
	switch ctx.Err() {
	case context.DeadlineExceeded:
		return errors.Wrapf(errorID, errors.DeadlineExceeded, err, "call %s.%s to %s", r.Service, r.Endpoint, addr)
	case context.Canceled:
		return errors.Wrapf(errorID, errors.Canceled, err, "call %s.%s to %s", r.Service, r.Endpoint, addr)
	}
	return nil
}
