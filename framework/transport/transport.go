package transport

import (
	"context"
	"errors"
	"maps"
)

// DefaultMaxMessageSize is the default limit on one Message's size
// (headers plus body): 4 MiB.
const DefaultMaxMessageSize = 4 << 20

// Sentinel errors. Implementations wrap them with details; test with errors.Is.
var (
	// ErrClosed: the socket, connection or listener was closed locally.
	ErrClosed = errors.New("transport: use of closed connection")
	// ErrRefused: nobody listens at the address, or the stream was refused
	// before a server accepted it. The peer processed nothing.
	ErrRefused = errors.New("transport: connection refused")
	// ErrReset: the connection broke; the peer may have processed part of the stream.
	ErrReset = errors.New("transport: connection reset")
	// ErrMessageTooLarge: a message exceeds the transport's size limit.
	ErrMessageTooLarge = errors.New("transport: message too large")
)

// Message is one unit sent on a stream: headers and an opaque body.
type Message struct {
	Header map[string]string
	Body   []byte
}

// Size is the message's size as counted against a size limit: the body plus
// every header key and value.
func (m *Message) Size() int {
	n := len(m.Body)
	for k, v := range m.Header {
		n += len(k) + len(v)
	}
	return n
}

// Clone returns a deep copy of m.
func (m *Message) Clone() *Message {
	c := &Message{Header: maps.Clone(m.Header)}
	if c.Header == nil {
		c.Header = make(map[string]string)
	}
	if m.Body != nil {
		c.Body = append(make([]byte, 0, len(m.Body)), m.Body...)
	}
	return c
}

// Transport dials and listens. It is safe for concurrent use.
type Transport interface {
	// Dial opens a connection to addr. It blocks until the connection is
	// established, refused (ErrRefused) or ctx is done.
	Dial(ctx context.Context, addr string) (Conn, error)
	// Listen starts listening on addr and does not block. Which addresses are
	// valid depends on the implementation; each documents how to ask for a
	// free one.
	Listen(addr string) (Listener, error)
}

// Conn is the client side of a connection. It is safe for concurrent use.
type Conn interface {
	// NewStream opens a stream and, when first is not nil, sends first as
	// its first message in the same step, so that a transport can put the
	// opening and the message on the wire together. It blocks only while
	// the connection or the stream applies backpressure. It returns a nil
	// Socket when no stream was opened — ErrClosed, ErrReset or ErrRefused
	// when the connection can carry no new stream; nothing was sent — and
	// the Socket with Send's error when the stream was opened but first
	// was not sent (ErrMessageTooLarge, say): the caller closes it.
	NewStream(ctx context.Context, first *Message) (Socket, error)
	// RemoteAddr is the address that was dialled.
	RemoteAddr() string
	// Done returns a channel that is closed once the connection is closed
	// or has failed: when no stream can be opened or used on it any more.
	// A client pool lets go of connections it retired through it. It does
	// not block.
	Done() <-chan struct{}
	// Close closes the connection and resets its streams. Idempotent.
	Close() error
}

// Listener hands the streams clients open to a server. It is safe for
// concurrent use.
type Listener interface {
	// Serve calls handle for every stream a client opens on a connection to
	// the listener, concurrently, each on a goroutine the transport picks:
	// the one that read the stream's opening when that costs nothing else
	// (the stream is alone on its connection with its first message, say),
	// else one of a pool the transport keeps. handle owns the socket: it
	// closes it before it returns (see the package documentation); it must
	// not assume a goroutine of its own, but may block. Serve blocks until
	// the listener is closed — by Close, or because it failed (its host
	// went down) — and every handle call it made has returned; it then
	// returns an error wrapping ErrClosed. A stream opened once the
	// listener is closed is refused (ErrRefused at the client). Serve may
	// be called once; a second call fails at once.
	Serve(handle func(Socket)) error
	// Addr is the address the listener is bound to; dial it to reach this listener.
	Addr() string
	// Close stops handing out streams and frees the address; streams
	// already handed to handle are unaffected. It does not wait for them
	// (Serve does). Idempotent.
	Close() error
}

// Socket is one stream. Send and SendClose may be called concurrently with
// Recv, but neither concurrently with itself or the other. Close,
// CloseSend, NotifyRecv and StopNotify may be called at any time.
type Socket interface {
	// Send sends m. It blocks while the stream applies backpressure. It
	// does not modify m, its header or its body, and keeps no reference to
	// them once it returns: the caller may reuse them.
	Send(ctx context.Context, m *Message) error
	// SendClose is Send followed by Close, in one step, so that a
	// transport can put the last message and the end of the stream on the
	// wire together. When m cannot be sent it returns Send's error and the
	// stream stays open. It blocks as Send does.
	SendClose(ctx context.Context, m *Message) error
	// Recv blocks until a message arrives, the peer ends the stream (io.EOF),
	// the stream fails, or ctx is done. The message is lent: see the
	// package documentation for how long it stays valid.
	Recv(ctx context.Context) (*Message, error)
	// NotifyRecv arranges for f to be called once, without a goroutine
	// blocked in Recv, with the error Recv would return (nil when a
	// message is waiting) as soon as Recv would no longer block because
	// of the peer or the connection: a message arrived, the peer ended
	// its side (CloseSend or Close), or the stream or its connection
	// failed — at once, on the calling goroutine, if that already
	// happened. A local Close does not count. f runs on whatever goroutine
	// caused the event: it must be quick, must not block and must not call
	// the socket. A socket holds one notification: a second NotifyRecv
	// replaces the first. A server uses it to notice, while a unary
	// handler runs, that its caller went away. It does not block.
	NotifyRecv(f func(err error))
	// StopNotify cancels the notification and reports whether it did so
	// before f was called. When it returns, f is not running and will not
	// be called. It does not block beyond a running f.
	StopNotify() bool
	// CloseSend tells the peer no more messages will be sent. Idempotent.
	CloseSend() error
	// RemoteAddr is the peer's address.
	RemoteAddr() string
	// Close ends the stream for this side and the caller's use of the
	// socket (see the package documentation). Idempotent.
	Close() error
}
