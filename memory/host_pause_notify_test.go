package memory_test

import (
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/transporttest"
	"github.com/microsim/microsim/memory"
)

// TestPauseKeepsNotifyRecv: a host's sockets keep the memory transport's
// NotifyRecv (a server watches every unary call through it); an event
// reaches a running host at once, a paused one only when the pause ends,
// and StopNotify during the pause drops it.
func TestPauseKeepsNotifyRecv(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hp := newHostPair(t)
		ctx, srv, cli, cs, ss := hp.ctx, hp.srv, hp.cli, hp.cs, hp.ss
		rn := ss

		// Running: the peer's send is reported at once, on its goroutine.
		got := make(chan error, 4)
		rn.NotifyRecv(func(err error) { got <- err })
		require.NoError(t, cs.Send(ctx, msg(1)))
		require.Len(t, got, 1)
		require.NoError(t, <-got, "nil: a message is waiting")
		require.False(t, rn.StopNotify(), "already called")
		requireMsg(t, ctx, ss, 1)

		// Paused: held until Resume.
		rn.NotifyRecv(func(err error) { got <- err })
		srv.Pause()
		require.NoError(t, cs.CloseSend())
		time.Sleep(10 * time.Second)
		synctest.Wait()
		require.Empty(t, got, "a paused host observes nothing")
		srv.Resume()
		synctest.Wait()
		require.Len(t, got, 1)
		require.ErrorIs(t, <-got, io.EOF)
		require.False(t, rn.StopNotify())

		// Paused, then stopped: never called, and no goroutine is left
		// waiting (synctest.Test fails on a leaked bubble goroutine).
		l2, _, c2, cs2, ss2 := servedPair(t, srv, cli, "srv:81")
		defer l2.Close()
		defer c2.Close()
		rn2 := ss2
		rn2.NotifyRecv(func(err error) { got <- err })
		srv.Pause()
		require.NoError(t, cs2.Send(ctx, msg(2)))
		synctest.Wait()
		require.True(t, rn2.StopNotify(), "cancelled before it was delivered")
		srv.Resume()
		synctest.Wait()
		require.Empty(t, got)

		// Replaced while a delivery waits for the resume: only the new
		// callback runs (the memory socket reports the waiting message to
		// it at once, and that too waits for the resume).
		l3, _, c3, cs3, ss3 := servedPair(t, srv, cli, "srv:82")
		defer l3.Close()
		defer c3.Close()
		rn3 := ss3
		old := make(chan error, 1)
		rn3.NotifyRecv(func(err error) { old <- err })
		srv.Pause()
		require.NoError(t, cs3.Send(ctx, msg(3)))
		rn3.NotifyRecv(func(err error) { got <- err })
		synctest.Wait()
		require.Empty(t, got)
		srv.Resume()
		synctest.Wait()
		require.Empty(t, old, "the replaced callback is never called")
		require.Len(t, got, 1)
		require.NoError(t, <-got)
		requireMsg(t, ctx, ss3, 3)
	})
}

// TestPauseHoldsOneStepOperations: NewStream with a first message and SendClose from a
// paused host wait for the resume, as NewStream, Send and Close do, and
// then deliver.
func TestPauseHoldsOneStepOperations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		n := memory.MustNetwork()
		defer n.Close()
		srv, cli := n.Host("srv"), n.Host("cli")
		l, err := srv.Transport().Listen("srv:80")
		require.NoError(t, err)
		defer l.Close()
		c, err := cli.Transport().Dial(ctx, "srv:80")
		require.NoError(t, err)
		defer c.Close()
		acc := transporttest.NewAcceptor(l)
		defer acc.Close()

		cli.Pause()
		opened := make(chan transport.Socket, 1)
		go func() {
			s, err := c.NewStream(ctx, msg(1))
			if err == nil {
				opened <- s
			}
		}()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		require.Empty(t, opened, "a paused host opens no stream")
		cli.Resume()
		cs := <-opened
		defer cs.Close()
		srvSock, err := acc.Accept(ctx)
		require.NoError(t, err)
		defer srvSock.Close()
		requireMsg(t, ctx, srvSock, 1)

		sc := srvSock
		srv.Pause()
		sent := make(chan error, 1)
		go func() { sent <- sc.SendClose(ctx, msg(2)) }()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		require.Empty(t, sent, "a paused host sends nothing")
		srv.Resume()
		require.NoError(t, <-sent)
		requireMsg(t, ctx, cs, 2)
		_, err = cs.Recv(ctx)
		require.Error(t, err, "the stream was closed after the message")
	})
}
