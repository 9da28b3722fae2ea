package memory_test

import (
	"context"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/memory"
)

// recvErr starts s.Recv in a goroutine and returns its error channel.
func recvErr(ctx context.Context, s transport.Socket) <-chan error {
	ch := make(chan error, 1)
	go func() {
		_, err := s.Recv(ctx)
		ch <- err
	}()
	return ch
}

func TestCrashListeningHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		n := memory.MustNetwork()
		defer n.Close()
		srv, cli := n.Host("srv"), n.Host("cli")
		l, c, cs, ss := streamPair(t, srv, cli, "srv:80")
		queued, err := c.NewStream(ctx, nil)
		require.NoError(t, err)
		defer queued.Close()
		require.NoError(t, queued.Send(ctx, msg(0)))
		cliPending, srvPending := recvErr(ctx, cs), recvErr(ctx, ss)
		synctest.Wait()

		srv.Crash()
		require.False(t, srv.Up())
		require.ErrorIs(t, <-cliPending, transport.ErrReset, "client side of an accepted stream")
		require.ErrorIs(t, <-srvPending, transport.ErrReset, "server side of an accepted stream")
		_, err = queued.Recv(ctx)
		require.ErrorIs(t, err, transport.ErrRefused, "a stream the server never accepted")
		require.ErrorIs(t, queued.Send(ctx, msg(1)), transport.ErrRefused)
		require.ErrorIs(t, cs.Send(ctx, msg(1)), transport.ErrReset)
		_, err = c.NewStream(ctx, nil)
		require.Error(t, err, "no new stream on a connection to a crashed host")
		_, err = memory.AcceptOne(ctx, l)
		require.ErrorIs(t, err, transport.ErrClosed)

		_, err = cli.Transport().Dial(ctx, "srv:80")
		require.ErrorIs(t, err, transport.ErrRefused, "dial to a crashed host")
		_, err = srv.Transport().Listen("srv:80")
		require.ErrorIs(t, err, transport.ErrClosed, "listen on a crashed host")
		require.ErrorContains(t, err, "down")
		_, err = srv.Transport().Dial(ctx, "cli:1")
		require.ErrorIs(t, err, transport.ErrClosed, "dial from a crashed host")
		srv.Crash() // idempotent

		srv.Restart()
		l2, c2, cs2, ss2 := streamPair(t, srv, cli, "srv:80")
		require.Equal(t, "srv:80", l2.Addr(), "the restarted host binds its old address")
		require.NoError(t, cs2.Send(ctx, msg(2)))
		requireMsg(t, ctx, ss2, 2)
		require.NoError(t, c2.Close())
		_, err = cs.Recv(ctx)
		require.ErrorIs(t, err, transport.ErrReset, "old streams stay reset after the restart")
	})
}

func TestCrashDiallingHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		n := memory.MustNetwork()
		defer n.Close()
		srv, cli, bystander := n.Host("srv"), n.Host("cli"), n.Host("other")
		l, c, _, ss := streamPair(t, srv, cli, "srv:80")
		queued, err := c.NewStream(ctx, nil) // never accepted
		require.NoError(t, err)
		defer queued.Close()
		oc, err := bystander.Transport().Dial(ctx, "srv:80")
		require.NoError(t, err)
		defer oc.Close()
		pending := recvErr(ctx, ss)
		synctest.Wait()

		cli.Crash()
		require.ErrorIs(t, <-pending, transport.ErrReset, "server side of a stream from a crashed host")
		require.ErrorIs(t, ss.Send(ctx, msg(0)), transport.ErrReset)
		_, err = cli.Transport().Dial(ctx, "srv:80")
		require.ErrorIs(t, err, transport.ErrClosed)

		// The listener lives on; the dead client's queued stream is dropped.
		ocs, err := oc.NewStream(ctx, nil)
		require.NoError(t, err)
		defer ocs.Close()
		require.NoError(t, ocs.Send(ctx, msg(1)))
		oss, err := memory.AcceptOne(ctx, l)
		require.NoError(t, err)
		defer oss.Close()
		requireMsg(t, ctx, oss, 1)
		require.Equal(t, "srv:80", ocs.RemoteAddr())

		cli.Restart()
		c2, err := cli.Transport().Dial(ctx, "srv:80")
		require.NoError(t, err, "a restarted host dials again")
		require.NoError(t, c2.Close())
	})
}

func TestNetworkCloseResetsEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		n := memory.MustNetwork()
		l, _, cs, ss := streamPair(t, n.Host("srv"), n.Host("cli"), "")
		pending := recvErr(ctx, ss)
		synctest.Wait()
		require.NoError(t, n.Close())
		require.NoError(t, n.Close())
		require.ErrorIs(t, <-pending, transport.ErrReset)
		_, err := cs.Recv(ctx)
		require.ErrorIs(t, err, transport.ErrReset)
		_, err = memory.AcceptOne(ctx, l)
		require.ErrorIs(t, err, transport.ErrClosed)
	})
}

// TestUnacceptedStreamsRefused: every stream waiting in a closed listener's
// queue is refused, whatever it was doing.
func TestUnacceptedStreamsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		n := memory.MustNetwork(memory.WithStreamBuffer(2))
		l, c := listenDial(t, ctx, n)
		defer n.Close()

		var socks []transport.Socket
		for range 4 {
			s, err := c.NewStream(ctx, nil)
			require.NoError(t, err)
			defer s.Close()
			socks = append(socks, s)
		}
		require.NoError(t, socks[0].Send(ctx, msg(0)))
		require.NoError(t, socks[1].Send(ctx, msg(0)))
		require.NoError(t, socks[1].Send(ctx, msg(1)))
		blockedSend := make(chan error, 1)
		go func() { blockedSend <- socks[1].Send(ctx, msg(2)) }() // buffer full
		require.NoError(t, socks[2].CloseSend())
		pendingRecv := recvErr(ctx, socks[3])
		synctest.Wait()

		require.NoError(t, l.Close())
		require.ErrorIs(t, <-blockedSend, transport.ErrRefused)
		require.ErrorIs(t, <-pendingRecv, transport.ErrRefused)
		for i, s := range socks {
			_, err := s.Recv(ctx)
			require.ErrorIs(t, err, transport.ErrRefused, "stream %d", i)
			require.ErrorIs(t, s.Send(ctx, msg(9)), transport.ErrRefused, "stream %d", i)
		}
		_, err := c.NewStream(ctx, nil)
		require.ErrorIs(t, err, transport.ErrRefused)
	})
}

// TestClientClosedBeforeAccept: a stream whose client sent a request and
// closed before the server got to it is still served.
func TestClientClosedBeforeAccept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		n := memory.MustNetwork()
		defer n.Close()
		l, c := listenDial(t, ctx, n)
		cs, err := c.NewStream(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, cs.Send(ctx, msg(0)))
		require.NoError(t, cs.Close())

		ss, err := memory.AcceptOne(ctx, l)
		require.NoError(t, err)
		defer ss.Close()
		requireMsg(t, ctx, ss, 0)
		_, err = ss.Recv(ctx)
		require.ErrorIs(t, err, io.EOF)
		require.ErrorIs(t, ss.Send(ctx, msg(1)), transport.ErrClosed)

		// A closed connection's queued streams are dropped instead.
		_, err = c.NewStream(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, c.Close())
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err = memory.AcceptOne(short, l)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}
