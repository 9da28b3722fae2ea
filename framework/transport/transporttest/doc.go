// Package transporttest is the conformance suite every transport.Transport
// implementation runs against itself: it checks the semantics documented in
// package transport (ordering, copying, half-close, close, refusal, reset,
// size limit, context cancellation, idempotent Close).
//
// A test of an implementation builds a Suite and runs it:
//
//	func TestConformance(t *testing.T) {
//		transporttest.Suite{
//			New: func(t *testing.T) (transport.Transport, transport.Transport, string) {
//				tr := tcp.New()
//				return tr, tr, "127.0.0.1:0"
//			},
//			MaxMessageSize: transport.DefaultMaxMessageSize,
//		}.Run(t)
//	}
//
// Besides package transport's documented semantics, the suite expects:
//
//   - a stream opened by NewStream reaches the server before anything is
//     sent on it (so a server that is served, not yet, keeps it in its
//     backlog);
//   - Serve hands every stream over, a handle that blocks holds up no other
//     stream, a second Serve fails, and Serve returns (an error wrapping
//     ErrClosed) once the listener is closed and every handle returned;
//   - Send after CloseSend or Close on the same side fails with ErrClosed;
//   - once the peer Closed its side and Recv has returned io.EOF, Send fails
//     with ErrClosed instead of blocking (unless Suite.DelayedSends);
//   - after Conn.Close the server side of its streams fails with ErrReset,
//     the client side with ErrReset or ErrClosed, and NewStream with ErrClosed;
//   - a stream opened on a connection whose listener closed fails with
//     ErrRefused, either from NewStream or from the stream's first Recv,
//     and never reaches a new listener on the same address;
//   - a Recv ended by its ctx leaves the stream usable;
//   - Send blocks once the peer stops reading (within 64 MiB);
//   - Listen on a bound address fails, two free-port listens get distinct
//     addresses, the client side's RemoteAddr is the listener's address and
//     the server side's names the dialling connection (one per connection);
//   - NotifyRecv calls back once for a message, the peer's CloseSend or
//     Close, or a broken connection (at once if the event already
//     happened), never for a local Close, and never after StopNotify
//     returned true; NewStream with a first message and SendClose behave
//     as their two steps, a message over the limit leaving the stream open;
//   - a received message stays intact until its socket's next Recv or
//     Close, whatever else the connection carries, and strings read from
//     its header stay intact after (built with microsim_poison: the
//     message is poisoned once its lease ended);
//   - a socket closed on both sides stays closed, whatever streams open
//     after it;
//   - with Suite.Baseline, a unary round trip allocates no more than
//     through the baseline transport (SameCost; skipped under -race).
//
// Tests that take a listener's streams one at a time use an Acceptor.
//
// It waits with short context timeouts, never with sleeps, so it runs both
// in real time and, with Suite.Synctest, in a testing/synctest bubble in
// virtual time. Every goroutine it starts ends before its subtest does.
package transporttest
