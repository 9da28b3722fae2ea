// Package brokertest is the conformance suite every broker.Broker
// implementation runs against itself: it checks the delivery semantics
// documented in package broker (fan-out to plain subscriptions, one member
// per queue group, per-subscription ordering, asynchronous delivery that a
// slow subscriber cannot hold up, Close waiting for a running handler,
// errors after Close, invalid topics, leaving a queue group, surviving a
// panicking handler, copying published messages).
//
// A test of an implementation builds a Suite and runs it. New returns a
// function that makes clients of one broker, so a subtest can publish and
// subscribe from several clients (connections, hosts) at once:
//
//	func TestConformance(t *testing.T) {
//		brokertest.Suite{
//			New: func(t *testing.T) func() broker.Broker {
//				url := startServer(t)
//				return func() broker.Broker {
//					b, err := nats.New(t.Context(), url)
//					require.NoError(t, err)
//					return b
//				}
//			},
//			Wait: 10 * time.Second,
//		}.Run(t)
//	}
//
// The suite closes every client it makes when the subtest ends. It works on
// a broker shared with other tests: every subtest uses topics of its own
// (the subtest's name plus a nonce, made of letters, digits and '-').
// Besides package broker's documented semantics, it expects:
//
//   - once Subscribe has returned, the subscription receives every message
//     published afterwards from any client;
//   - once Subscription.Close has returned, its handler is not called again,
//     and a queue group's later messages go to its remaining members;
//   - Publish and Subscribe on a closed client fail with ErrClosed, and an
//     empty topic fails with ErrInvalidTopic;
//   - a handler gets its subscription's topic and the published header and
//     body, and a panic in it is recovered.
//
// It waits for deliveries with bounded timers, never with sleeps, and waits
// a short while only to check that nothing more arrives, so it runs both in
// real time and, with Suite.Synctest, in a testing/synctest bubble in
// virtual time. Every goroutine it starts ends before its subtest does.
package brokertest
