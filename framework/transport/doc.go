// Package transport moves messages between a client and a server.
//
// A Transport dials connections (Conn) and listens for them (Listener). A
// connection carries many concurrent streams; a stream (Socket) is an
// ordered, bidirectional sequence of Messages. A unary call is one stream
// with one message each way; a streaming call is one stream with many.
// Servers see streams, not connections: Listener.Accept returns the next
// stream opened by any client.
//
// Semantics every implementation honours (the conformance suite in
// transporttest checks them):
//
//   - Messages on a stream arrive in the order they were sent, intact, and
//     are copied: the sender may reuse a Message after Send returns.
//   - Dial to an address nobody listens on fails at once with an error that
//     wraps ErrRefused.
//   - CloseSend half-closes a stream: the peer's Recv returns io.EOF after it
//     has received every message sent before.
//   - Close ends the local side of a stream: messages already sent are still
//     delivered, then the peer sees io.EOF; pending and later Send/Recv on the
//     closed side fail with ErrClosed.
//   - A stream that was accepted nowhere (its listener closed first) ends
//     with ErrRefused: the request was never processed.
//   - A connection that breaks ends its streams with ErrReset.
//   - A Message larger than the transport's limit fails Send with an error
//     wrapping ErrMessageTooLarge that names both sizes; the stream stays usable.
//   - Send after the peer closed the stream fails with ErrClosed; NewStream
//     after Conn.Close fails with ErrClosed.
//   - Listener.Close stops accepting and frees the address at once; streams
//     already accepted run to completion. It does not wait for them: a
//     transport that owns goroutines (TCP) implements io.Closer, and its
//     Close closes everything it made and waits for all of them.
//   - Every blocking method takes a ctx and returns ctx.Err() (possibly
//     wrapped) when it is done first.
//   - Close is idempotent everywhere and unblocks every pending call.
//
// Optional interfaces add abilities without widening Socket; callers test
// for them with a type assertion and fall back when they are missing (a
// decorator that wraps a Socket hides them unless it forwards them):
//
//   - RecvNotifier: a callback, instead of a goroutine blocked in Recv, for
//     "Recv would no longer block" (a message, the peer's end, a failure).
//     The server uses it to cancel a unary handler whose caller went away.
//     The memory and TCP sockets implement it; the conformance suite checks
//     it when present.
//   - StreamSender (Conn) and SendCloser (Socket): NewStream+Send and
//     Send+Close in one step, so that the frames of a unary call's request
//     and reply each go out in one write. The client and server use them;
//     memory and TCP implement them; the suite checks them when present.
//   - Releaser (Socket): hands a received message back once the caller
//     is done with it, so that the transport reuses its memory for the
//     next one instead of allocating. TCP and memory implement it; the
//     package function Release calls it when present; the suite checks it
//     when present. The client releases its decoded replies; the server
//     releases a unary request once the handler returned when no handler
//     wrapper (the only code that sees Request.Header) is configured.
//   - BodyReleaser (Socket): hands back only a received message's body,
//     the caller keeping its header. The server releases a unary
//     request's body once a copying codec decoded it. Memory implements
//     it, and TCP for the messages a server receives (their header
//     strings are kept apart from the payload for this); the suite checks
//     it when present.
//   - Freer (Socket): the caller is done with a socket for good (closed,
//     no operation running or to come), so that the transport may reuse
//     its memory for a later stream. The package function Free closes and
//     frees. The client frees a unary attempt's socket, the server a unary
//     call's (unless it is stopping: its drain may still close it).
//     Memory implements it, reusing a stream once both its ends are freed.
//   - Doner (Conn): a channel closed when the connection has ended, which
//     the client's pool uses to let go of retired connections.
package transport

//go:generate go tool mockgen -typed -destination=transportmock/transportmock.go -package=transportmock . Transport,Conn,Listener,Socket
