package transporttest

import (
	"context"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
)

// testDialRefused: a free address nobody listens on refuses at once.
func testDialRefused(w *world) {
	t := w.t
	l, err := w.listenT.Listen(w.addr)
	require.NoError(t, err)
	addr := l.Addr()
	require.NoError(t, l.Close())

	ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err = w.dialT.Dial(ctx, addr)
	require.ErrorIs(t, err, transport.ErrRefused, "dial %s", addr)
	require.Less(t, time.Since(start), 2*time.Second, "a refused dial fails at once")
}

// testContextRecv: Recv ends with the ctx's error and the stream stays usable.
func testContextRecv(w *world) {
	t := w.t
	_, _, cs, ss := w.pair()
	_, err := ss.Recv(w.shortCtx())
	require.ErrorIs(t, err, context.DeadlineExceeded)

	ctx, cancel := context.WithCancel(w.ctx)
	pending := w.goErr(func() error { _, err := cs.Recv(ctx); return err })
	w.settle()
	cancel()
	require.ErrorIs(t, <-pending, context.Canceled)

	require.NoError(t, cs.Send(w.ctx, numbered(1, 0)))
	require.NoError(t, recvN(w.ctx, ss, 1, 1, false))
	require.NoError(t, ss.Send(w.ctx, numbered(2, 0)))
	require.NoError(t, recvN(w.ctx, cs, 2, 1, false))
}

// testContextSend: Send blocks once the peer stops reading, until its ctx
// ends.
func testContextSend(w *world) {
	t := w.t
	_, _, cs, _ := w.pair()
	size := 64 << 10
	if max := w.s.MaxMessageSize; max > 0 && max < size {
		size = max
	}
	m := &transport.Message{Body: make([]byte, size)}
	var err error
	sent := 0
	for sent < 64<<20/size {
		ctx, cancel := context.WithTimeout(w.ctx, short)
		err = cs.Send(ctx, m)
		cancel()
		if err != nil {
			break
		}
		sent++
	}
	require.ErrorIs(t, err, context.DeadlineExceeded,
		"Send must block once the peer stops reading; %d messages of %d bytes went through", sent, size)

	ctx, cancel := context.WithCancel(w.ctx)
	pending := w.goErr(func() error { return cs.Send(ctx, m) })
	w.settle()
	cancel()
	require.ErrorIs(t, <-pending, context.Canceled)
}

// testContextDial: Dial with a cancelled ctx fails with its error.
func testContextDial(w *world) {
	l := w.listen()
	ctx, cancel := context.WithCancel(w.ctx)
	cancel()
	c, err := w.dialT.Dial(ctx, l.Addr())
	if err == nil {
		c.Close()
	}
	require.ErrorIs(w.t, err, context.Canceled)
}

// testAddresses: free-port listens get distinct addresses, a bound address
// cannot be bound twice, and RemoteAddr names the right ends.
func testAddresses(w *world) {
	t := w.t
	l1 := w.listen()
	l2 := w.listen()
	require.NotEqual(t, l1.Addr(), l2.Addr(), "two free-port listens")
	l3, err := w.listenT.Listen(l1.Addr())
	if err == nil {
		l3.Close()
	}
	require.Error(t, err, "listen on %s while it is in use", l1.Addr())

	c := w.dial(l1)
	require.Equal(t, l1.Addr(), c.RemoteAddr())
	cs, ss := w.stream(l1, c)
	require.Equal(t, l1.Addr(), cs.RemoteAddr(), "client side names the listener")
	require.NotEmpty(t, ss.RemoteAddr(), "server side names the dialler")
	require.NotEqual(t, l1.Addr(), ss.RemoteAddr(), "server side names the dialler")
	cs2, ss2 := w.stream(l1, c)
	require.Equal(t, cs.RemoteAddr(), cs2.RemoteAddr())
	require.Equal(t, ss.RemoteAddr(), ss2.RemoteAddr(), "streams of one connection come from one address")

	other := w.dial(l1)
	_, ss3 := w.stream(l1, other)
	require.NotEqual(t, ss.RemoteAddr(), ss3.RemoteAddr(), "two connections come from two addresses")
}
