package client

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/codec"
	"github.com/microsim/microsim/framework/internal/wire"
)

// ErrClosed: the client was closed.
var ErrClosed = errors.New("client: closed")

// Client calls services. It is safe for concurrent use.
type Client interface {
	// Call sends req to service's endpoint and decodes the reply into rsp
	// (a pointer). It blocks until the reply, a final error, or the deadline.
	Call(ctx context.Context, service, endpoint string, req, rsp any, opts ...CallOption) error
	// Stream opens a bidirectional stream to service's endpoint. It blocks
	// until the stream is open. The stream ends when ctx is done.
	Stream(ctx context.Context, service, endpoint string, opts ...CallOption) (Stream, error)
	// Publish encodes msg and publishes it on topic through the client's
	// broker. It blocks until the broker accepted the message.
	Publish(ctx context.Context, topic string, msg any, opts ...PublishOption) error
	// Close closes pooled connections; later calls fail with ErrClosed.
	// It does not close the selector or broker it was given. Idempotent.
	Close() error
}

// Stream is a client stream. Send and Recv may be used from two goroutines,
// but neither concurrently with itself.
type Stream interface {
	// Send encodes and sends msg. Blocks under backpressure.
	Send(msg any) error
	// Recv blocks for the next message and decodes it into msg; it returns
	// io.EOF when the server ended the stream successfully, or the server's error.
	Recv(msg any) error
	// CloseSend tells the server the client will send no more.
	CloseSend() error
	// Close abandons the stream. Idempotent.
	Close() error
}

// Request describes one call, as call and attempt wrappers see it.
type Request struct {
	Service     string
	Endpoint    string
	ContentType string
	// Body is the request value (nil for streams).
	Body any
	// Idempotent marks a call that may safely run more than once.
	Idempotent bool

	opts  CallOptions
	codec codec.Codec
	body  []byte // Body encoded once per call

	// timeoutBuf holds the first attempt's Micro-Timeout value, so that it
	// costs no allocation (see timeoutHeader); claimed once per Request.
	timeoutBuf     [20]byte
	timeoutClaimed atomic.Bool

	// firstAttempt is the context of the call's first attempt, for attempt
	// wrappers (see withAttempt); claimed once per Request.
	firstAttempt        attemptCtx
	firstAttemptClaimed atomic.Bool
}

// timeoutHeader formats the Micro-Timeout value of an attempt. The first
// attempt of a call formats it into the Request's own buffer and returns a
// string over it: the buffer is never written again (the claim is once per
// Request), so the string stays immutable for as long as anything — a
// header map the transport copied, a message queued in memory — holds it.
// Later and concurrent (hedged) attempts allocate theirs.
func (r *Request) timeoutHeader(d time.Duration) string {
	if !r.timeoutClaimed.CompareAndSwap(false, true) {
		return wire.FormatTimeout(d)
	}
	b := strconv.AppendInt(r.timeoutBuf[:0], int64(d), 10)
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// Options returns the call's options.
func (r *Request) Options() CallOptions { return r.opts }

// CallFunc performs a whole call, retries included.
type CallFunc func(ctx context.Context, req *Request, rsp any) error

// CallWrapper is call middleware: it wraps the whole call.
type CallWrapper func(next CallFunc) CallFunc

// AttemptFunc performs one attempt on one node address.
type AttemptFunc func(ctx context.Context, addr string, req *Request, rsp any) error

// AttemptWrapper is attempt middleware: it wraps each attempt and sees the
// node address it goes to. The attempts of a hedged call run concurrently
// (sharing the *Request, which they must not modify), so an attempt
// wrapper must be safe for concurrent use.
type AttemptWrapper func(next AttemptFunc) AttemptFunc

// StreamFunc opens a stream: node selection, and retries while nothing
// was sent.
type StreamFunc func(ctx context.Context, req *Request) (Stream, error)

// StreamWrapper is stream middleware: it wraps the opening of each
// stream, and may wrap the Stream it returns (to see its messages and
// its end). It must be safe for concurrent use.
type StreamWrapper func(next StreamFunc) StreamFunc

// PublishFunc hands one encoded event to the broker.
type PublishFunc func(ctx context.Context, topic string, msg *broker.Message) error

// PublishWrapper is publish middleware: it wraps each Publish once the
// event is encoded, and may add headers to msg (trace context, say) before
// passing it on. It must be safe for concurrent use.
type PublishWrapper func(next PublishFunc) PublishFunc
