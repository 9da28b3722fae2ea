package transporttest

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
)

// testCloseSend: the peer gets io.EOF after every earlier message, the
// other direction keeps working, and Send after CloseSend fails with
// ErrClosed.
func testCloseSend(w *world) {
	t := w.t
	_, _, cs, ss := w.pair()
	sent := w.goErr(func() error { return sendN(w.ctx, cs, 1, 5, true) })
	require.NoError(t, recvN(w.ctx, ss, 1, 5, true))
	require.NoError(t, <-sent)
	_, err := ss.Recv(w.ctx)
	require.ErrorIs(t, err, io.EOF, "io.EOF again")

	require.NoError(t, cs.CloseSend(), "CloseSend twice")
	require.ErrorIs(t, cs.Send(w.ctx, numbered(1, 5)), transport.ErrClosed, "Send after CloseSend")

	require.NoError(t, ss.Send(w.ctx, numbered(2, 0)))
	require.NoError(t, ss.CloseSend())
	require.NoError(t, recvN(w.ctx, cs, 2, 1, true), "the other direction still works")
}

// testClose: Close unblocks a pending Recv with ErrClosed, later calls fail
// with ErrClosed, the peer receives what was sent before and then io.EOF,
// and the peer's Send then fails with ErrClosed instead of blocking.
func testClose(w *world) {
	t := w.t
	_, _, cs, ss := w.pair()
	recvd := w.goErr(func() error { return recvN(w.ctx, ss, 1, 3, true) })
	pending := w.goErr(func() error { _, err := cs.Recv(w.ctx); return err })
	w.settle()

	require.NoError(t, sendN(w.ctx, cs, 1, 3, false))
	require.NoError(t, cs.Close())
	require.ErrorIs(t, <-pending, transport.ErrClosed, "pending Recv on the closed side")
	require.NoError(t, <-recvd, "the peer gets what was sent before Close, then io.EOF")

	_, err := cs.Recv(w.ctx)
	require.ErrorIs(t, err, transport.ErrClosed, "Recv after Close")
	require.ErrorIs(t, cs.Send(w.ctx, numbered(1, 3)), transport.ErrClosed, "Send after Close")
	require.ErrorIs(t, ss.Send(w.shortCtx(), numbered(2, 0)), transport.ErrClosed, "peer Send after Close")
}

// testListenerClose: Accept fails with ErrClosed, the address is free at
// once, accepted streams keep working, and the connection opens no new
// stream to the closed listener (nor to its successor on the same address).
func testListenerClose(w *world) {
	t := w.t
	l, c, cs, ss := w.pair()
	addr := l.Addr()
	pending := w.goErr(func() error { _, err := w.accept(l).Accept(w.ctx); return err })
	w.settle()

	require.NoError(t, l.Close())
	require.ErrorIs(t, <-pending, transport.ErrClosed, "pending Accept")
	_, err := w.accept(l).Accept(w.ctx)
	require.ErrorIs(t, err, transport.ErrClosed, "Accept after Close")

	l2, err := w.listenT.Listen(addr)
	require.NoError(t, err, "listen again on %s at once", addr)
	t.Cleanup(func() { l2.Close() })
	require.Equal(t, addr, l2.Addr())

	require.NoError(t, cs.Send(w.ctx, numbered(1, 0)))
	require.NoError(t, recvN(w.ctx, ss, 1, 1, false), "accepted stream, client to server")
	require.NoError(t, ss.Send(w.ctx, numbered(2, 0)))
	require.NoError(t, recvN(w.ctx, cs, 2, 1, false), "accepted stream, server to client")

	ns, err := c.NewStream(w.ctx, nil)
	if err == nil { // a transport may learn of the refusal only later
		t.Cleanup(func() { ns.Close() })
		_, err = ns.Recv(w.ctx)
	}
	require.ErrorIs(t, err, transport.ErrRefused, "new stream on a connection to a closed listener")
	_, err = w.accept(l2).Accept(w.shortCtx())
	require.ErrorIs(t, err, context.DeadlineExceeded, "the old connection must not reach the new listener")

	c2 := w.dial(l2)
	cs2, ss2 := w.stream(l2, c2)
	require.NoError(t, cs2.Send(w.ctx, numbered(3, 0)))
	require.NoError(t, recvN(w.ctx, ss2, 3, 1, false), "the new listener works")

	require.NoError(t, cs.CloseSend())
	require.NoError(t, recvN(w.ctx, ss, 1, 0, true), "accepted stream ends normally")
}

// testUnacceptedRefused: streams a closed listener never accepted end with
// ErrRefused on the client side.
func testUnacceptedRefused(w *world) {
	t := w.t
	l := w.listen()
	c := w.dial(l)
	var socks []transport.Socket
	for range 3 {
		cs, err := c.NewStream(w.ctx, nil)
		require.NoError(t, err)
		t.Cleanup(func() { cs.Close() })
		socks = append(socks, cs)
	}
	require.NoError(t, socks[0].Send(w.ctx, numbered(1, 0)))
	pending := w.goErr(func() error { _, err := socks[1].Recv(w.ctx); return err })
	w.settle()

	require.NoError(t, l.Close())
	require.ErrorIs(t, <-pending, transport.ErrRefused, "pending Recv")
	for i, cs := range socks {
		_, err := cs.Recv(w.ctx)
		require.ErrorIs(t, err, transport.ErrRefused, "stream %d", i)
	}
}

// testConnCloseResets: Conn.Close resets its streams on both sides and
// leaves other connections alone.
func testConnCloseResets(w *world) {
	t := w.t
	l, c, cs, ss := w.pair()
	require.NoError(t, cs.Send(w.ctx, numbered(1, 0)))
	require.NoError(t, recvN(w.ctx, ss, 1, 1, false))
	other := w.dial(l)
	ocs, oss := w.stream(l, other)

	srvPending := w.goErr(func() error { _, err := ss.Recv(w.ctx); return err })
	cliPending := w.goErr(func() error { _, err := cs.Recv(w.ctx); return err })
	w.settle()
	require.NoError(t, c.Close())

	require.ErrorIs(t, <-srvPending, transport.ErrReset, "pending Recv, server side")
	requireClosedOrReset(t, <-cliPending, "pending Recv, client side")
	require.ErrorIs(t, ss.Send(w.shortCtx(), numbered(2, 0)), transport.ErrReset, "Send, server side")
	requireClosedOrReset(t, cs.Send(w.ctx, numbered(1, 1)), "Send, client side")
	_, err := c.NewStream(w.ctx, nil)
	require.ErrorIs(t, err, transport.ErrClosed, "NewStream after Close")

	require.NoError(t, ocs.Send(w.ctx, numbered(3, 0)))
	require.NoError(t, recvN(w.ctx, oss, 3, 1, false), "another connection is unaffected")
}

func requireClosedOrReset(t require.TestingT, err error, what string) {
	require.Error(t, err, what)
	require.True(t, errors.Is(err, transport.ErrReset) || errors.Is(err, transport.ErrClosed),
		"%s: got %v, want ErrReset or ErrClosed", what, err)
}

// testCloseIdempotent: every Close and CloseSend returns nil however often
// and however concurrently it is called.
func testCloseIdempotent(w *world) {
	t := w.t
	l, c, cs, ss := w.pair()
	for range 2 {
		require.NoError(t, cs.CloseSend())
	}
	for range 2 {
		require.NoError(t, cs.Close())
		require.NoError(t, cs.CloseSend())
		require.NoError(t, ss.Close())
		require.NoError(t, c.Close())
		require.NoError(t, l.Close())
	}

	l, c, cs, ss = w.pair()
	g := &group{w: w}
	for i := range 4 {
		g.Go(func() error {
			closers := []func() error{cs.CloseSend, cs.Close, ss.Close, ss.CloseSend, c.Close, l.Close}
			var errs []error
			for j := range closers {
				errs = append(errs, closers[(i+j)%len(closers)]())
			}
			return errors.Join(errs...)
		})
	}
	require.NoError(t, g.Wait())
}

// testRacyClose closes sockets, the connection and the listener while
// several streams are busy both ways: every call must return, with an
// error rather than a ctx timeout, and nothing may race (run with -race).
func testRacyClose(w *world) {
	const streams, limit = 5, 10000
	l := w.listen()
	c := w.dial(l)
	g := &group{w: w}
	var all []transport.Socket
	for id := range streams {
		cs, ss := w.stream(l, c)
		all = append(all, cs, ss)
		for _, s := range []transport.Socket{cs, ss} {
			g.Go(func() error {
				for i := range limit {
					if err := s.Send(w.ctx, numbered(id, i)); err != nil {
						return notCtx(err)
					}
				}
				return nil
			})
			g.Go(func() error {
				for {
					if _, err := s.Recv(w.ctx); err != nil {
						return notCtx(err)
					}
				}
			})
		}
	}
	closers := []func() error{c.Close, l.Close}
	for _, s := range all {
		closers = append(closers, s.Close)
	}
	for _, f := range closers {
		g.Go(f)
	}
	require.NoError(w.t, g.Wait())
}

// notCtx passes io.EOF and transport errors and reports ctx errors: a call
// that only a timeout ended was not unblocked by Close.
func notCtx(err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("blocked until the context ended: %w", err)
	}
	return nil
}
