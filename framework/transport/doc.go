// Package transport moves messages between a client and a server.
//
// A Transport dials connections (Conn) and listens for them (Listener). A
// connection carries many concurrent streams; a stream (Socket) is an
// ordered, bidirectional sequence of Messages. A unary call is one stream
// with one message each way; a streaming call is one stream with many.
// Servers see streams, not connections: Listener.Serve calls its handle
// function with every stream any client opens.
//
// # Ownership: one rule
//
// Received messages are lent. A *Message that Socket.Recv returns — the
// Message itself, its Header map and its Body — is valid until the same
// socket's next Recv or its Close; then the transport reuses its memory
// for later messages. Whoever keeps something past that copies it first
// (Message.Clone, a codec's Unmarshal, which copies). The strings read
// from a Header are ordinary, immutable strings: they may be kept (an
// error decoded from the header, metadata); only the map and the body's
// bytes are lent. Send never keeps the caller's message: the caller may
// reuse it, its header and its body as soon as Send returns.
//
// A socket is the caller's until Close: Close ends every use of it, and
// with it the lease of its last message. Calls on a closed socket fail
// with ErrClosed (Close and CloseSend do nothing, NotifyRecv arms
// nothing), however much later they come: a transport may reuse a
// message's memory, never a socket, so a stale socket can never act on
// another stream. A Close from another goroutine ends the lease just the
// same: code that closes a socket while another goroutine may still be
// reading the message it received must make the reader finish first (the
// client's Stream decodes under the lock its Close takes).
//
// Nothing is handed back by hand, so nothing can be handed back wrongly.
// What the rule leaves to the caller — not to read a message after its
// lease — is made visible by building with the microsim_poison tag (make
// poison): the transports then overwrite a message whose lease ended
// instead of reusing it (package internal/poison), so a late reader gets
// garbage, and the race detector reports the overwrite racing with the
// read.
//
// # Semantics
//
// Every implementation honours these (the conformance suite in
// transporttest checks them):
//
//   - Messages on a stream arrive in the order they were sent, intact.
//   - Dial to an address nobody listens on fails at once with an error that
//     wraps ErrRefused.
//   - Conn.NewStream with a first message opens the stream and sends it in
//     one step (one write on a network); a first message over the size
//     limit opens the stream and fails as Send would.
//   - CloseSend half-closes a stream: the peer's Recv returns io.EOF after it
//     has received every message sent before.
//   - Close ends the local side of a stream: messages already sent are still
//     delivered, then the peer sees io.EOF; pending and later Send/Recv on the
//     closed side fail with ErrClosed. SendClose is Send and Close in one
//     step (the reply and the end of a unary call leave in one write).
//   - NotifyRecv calls back once, without a goroutine blocked in Recv, when
//     Recv would no longer block because of the peer (a message, its end,
//     a failure); a server cancels a unary handler whose caller went away
//     with it.
//   - A stream that was served nowhere (its listener closed first) ends
//     with ErrRefused: the request was never processed.
//   - A connection that breaks ends its streams with ErrReset; Conn.Done is
//     closed once the connection has ended.
//   - A Message larger than the transport's limit fails Send with an error
//     wrapping ErrMessageTooLarge that names both sizes; the stream stays usable.
//   - Send after the peer closed the stream fails with ErrClosed; NewStream
//     after Conn.Close fails with ErrClosed.
//   - Listener.Close stops handing out streams and frees the address at
//     once; streams already handed to Serve's function run to completion,
//     and Serve returns once they have. A transport that owns goroutines
//     (TCP) implements io.Closer, and its Close closes everything it made
//     and waits for all of them.
//   - Every blocking method takes a ctx and returns ctx.Err() (possibly
//     wrapped) when it is done first.
//   - Close is idempotent everywhere and unblocks every pending call.
//
// # Decorators
//
// Everything a call path uses is a method of the four interfaces, none an
// optional interface found by a type assertion, so a decorator (faults'
// link faults, memory's host pause) must forward every ability: a world
// with faults installed runs the code production runs. transporttest's
// Suite.Baseline checks that a decorated stack costs a round trip no more
// allocations than the transport under it.
//
// # Implementations
//
// The memory transport (package memory) copies a message into the
// receiver's queue at Send and takes it back at the receiver's next Recv
// or Close. A connection reuses a stream once both its sockets are
// closed; each use of a stream has sockets of its own (from slabs, one
// allocation per sixteen), which are never reused. The TCP transport
// (package tcp) decodes a message into a pooled buffer and header map,
// taken back the same way; header strings come from a per-connection
// table, so they never share the buffer. Neither starts a goroutine per stream: a listener's Serve runs
// a pool of goroutines (TCP's per listener, internal/workpool; memory's one
// per network, shared by its listeners), and TCP serves a stream that
// arrives alone on its connection on the goroutine that read it.
package transport

//go:generate go tool mockgen -typed -destination=transportmock/transportmock.go -package=transportmock . Transport,Conn,Listener,Socket
