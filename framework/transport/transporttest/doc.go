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
//   - a stream opened by NewStream reaches Listener.Accept before anything
//     is sent on it;
//   - Send after CloseSend or Close on the same side fails with ErrClosed;
//   - once the peer Closed its side and Recv has returned io.EOF, Send fails
//     with ErrClosed instead of blocking;
//   - after Conn.Close the server side of its streams fails with ErrReset,
//     the client side with ErrReset or ErrClosed, and NewStream with ErrClosed;
//   - a stream opened on a connection whose listener closed fails with
//     ErrRefused, either from NewStream or from the stream's first Recv,
//     and never reaches a new listener on the same address;
//   - a Recv or Accept ended by its ctx leaves the stream or listener usable;
//   - Send blocks once the peer stops reading (within 64 MiB);
//   - Listen on a bound address fails, two free-port listens get distinct
//     addresses, the client side's RemoteAddr is the listener's address and
//     the server side's names the dialling connection (one per connection);
//   - a socket that implements transport.RecvNotifier calls back once for a
//     message, the peer's CloseSend or Close, or a broken connection (at
//     once if the event already happened), never for a local Close, and
//     never after StopNotify returned true; transport.StreamSender and
//     transport.SendCloser behave as their two steps, a message over the
//     limit leaving the stream open; with a transport.Releaser, a message
//     that was not released never changes, however others are released
//     (twice, concurrently, on another socket, after Close); with a
//     transport.BodyReleaser, a message whose body was released keeps its
//     header while the body's memory is reused (each subtest is skipped
//     for a transport without the interface).
//
// It waits with short context timeouts, never with sleeps, so it runs both
// in real time and, with Suite.Synctest, in a testing/synctest bubble in
// virtual time. Every goroutine it starts ends before its subtest does.
package transporttest
