package memory_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/transporttest"
	"github.com/microsim/microsim/memory"
)

// TestPauseHoldsTransport: a paused host accepts nothing, receives nothing
// and sends nothing; everything goes on when it resumes, in order, and a
// Recv that gave up during the pause loses nothing.
func TestPauseHoldsTransport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hp := newHostPair(t)
		ctx, srv, acc, c, cs, ss := hp.ctx, hp.srv, hp.acc, hp.c, hp.cs, hp.ss

		srv.Pause()
		require.True(t, srv.Paused())
		require.NoError(t, cs.Send(ctx, msg(1)), "the peer's send goes into the buffer")
		short, cancel := context.WithTimeout(ctx, time.Second)
		_, err := ss.Recv(short)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded, "the paused host receives nothing")

		sent := make(chan error, 1)
		go func() { sent <- ss.Send(ctx, msg(2)) }()
		queued, err := c.NewStream(ctx, nil)
		require.NoError(t, err, "a peer can open a stream to a paused host")
		defer queued.Close()
		accepted := make(chan transport.Socket, 1)
		go func() {
			s, err := acc.Accept(ctx)
			if err == nil {
				accepted <- s
			}
		}()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		require.Empty(t, sent, "the paused host sends nothing")
		require.Empty(t, accepted, "and accepts nothing")

		srv.Resume()
		require.NoError(t, <-sent)
		requireMsg(t, ctx, cs, 2)
		requireMsg(t, ctx, ss, 1) // kept although the first Recv gave up
		s := <-accepted
		defer s.Close()
		require.NoError(t, queued.Send(ctx, msg(3)))
		requireMsg(t, ctx, s, 3)
	})
}

// TestPauseHoldsRegistryAndBroker: registry calls from a paused host wait
// (and fail with ErrUnavailable when their ctx ends first), its watch and
// subscriptions deliver nothing until it resumes, and it publishes nothing.
func TestPauseHoldsRegistryAndBroker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		n := memory.MustNetwork()
		defer n.Close()
		a, other := n.Host("a"), n.Host("other")
		w, err := a.Registry().Watch(ctx)
		require.NoError(t, err)
		defer w.Stop()
		sub := a.Broker()
		defer sub.Close()
		got := make(chan time.Time, 4)
		_, err = sub.Subscribe(ctx, "t", func(context.Context, string, *broker.Message) error {
			got <- time.Now()
			return nil
		})
		require.NoError(t, err)

		a.Pause()
		short, cancel := context.WithTimeout(ctx, time.Second)
		_, err = a.Registry().GetService(short, "x")
		cancel()
		require.ErrorIs(t, err, registry.ErrUnavailable)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorContains(t, err, "paused")

		svc := &registry.Service{Name: "x", Nodes: []*registry.Node{{ID: "1", Address: "other:1"}}}
		require.NoError(t, other.Registry().Register(ctx, svc))
		require.NoError(t, other.Broker().Publish(ctx, "t", &broker.Message{Body: []byte("m")}))
		published := make(chan error, 1)
		pub := a.Broker()
		defer pub.Close()
		go func() { published <- pub.Publish(ctx, "t", &broker.Message{Body: []byte("mine")}) }()
		next := make(chan *registry.Event, 1)
		go func() {
			ev, err := w.Next(ctx)
			if err == nil {
				next <- ev
			}
		}()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		require.Empty(t, got, "no delivery to a paused host")
		require.Empty(t, next, "no watch event either")
		require.Empty(t, published, "and it publishes nothing")

		resumed := time.Now()
		a.Resume()
		require.Equal(t, "1", (<-next).Service.Nodes[0].ID)
		require.NoError(t, <-published)
		require.Equal(t, resumed, <-got)
		require.Equal(t, resumed, <-got)
		svcs, err := a.Registry().GetService(ctx, "x")
		require.NoError(t, err)
		require.Len(t, svcs, 1)
	})
}

// TestCrashEndsPause: a crashed host is no longer paused, and what waited
// fails as it does on a crashed host.
func TestCrashEndsPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		n := memory.MustNetwork()
		defer n.Close()
		srv, cli := n.Host("srv"), n.Host("cli")
		_, _, _, cs, ss := servedPair(t, srv, cli, "srv:80")
		srv.Pause()
		pending := recvErr(ctx, ss)
		require.NoError(t, cs.Send(ctx, msg(1)))
		synctest.Wait()
		srv.Crash()
		require.False(t, srv.Paused())
		require.ErrorIs(t, <-pending, transport.ErrReset, "the paused host never saw the message: it crashed")
		srv.Restart()
		srv.Pause() // does nothing to a host that is down...
		srv.Crash()
		srv.Pause()
		require.False(t, srv.Paused(), "...or crashed")
	})
}

// hostPair is a network with hosts "srv" and "cli" and a stream from cli to
// a listener at "srv:80", closed at the test's end.
type hostPair struct {
	ctx      context.Context
	net      *memory.Network
	srv, cli *memory.Host
	l        transport.Listener
	acc      *transporttest.Acceptor // serves l (through the host's pause)
	c        transport.Conn
	cs, ss   transport.Socket // the stream's client and server sides
}

func newHostPair(t *testing.T) *hostPair {
	t.Helper()
	hp := &hostPair{ctx: testCtx(t), net: memory.MustNetwork()}
	t.Cleanup(func() { _ = hp.net.Close() })
	hp.srv, hp.cli = hp.net.Host("srv"), hp.net.Host("cli")
	hp.l, hp.acc, hp.c, hp.cs, hp.ss = servedPair(t, hp.srv, hp.cli, "srv:80")
	return hp
}

// servedPair is a listener at addr on srv, served (through the host's
// pause) by an Acceptor, a connection to it from cli and one stream on it,
// all closed at the test's end.
func servedPair(t *testing.T, srv, cli *memory.Host, addr string) (transport.Listener, *transporttest.Acceptor, transport.Conn, transport.Socket, transport.Socket) {
	t.Helper()
	ctx := testCtx(t)
	l, err := srv.Transport().Listen(addr)
	require.NoError(t, err)
	acc := transporttest.NewAcceptor(l)
	t.Cleanup(func() { _ = acc.Close() })
	c, err := cli.Transport().Dial(ctx, l.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	cs, err := c.NewStream(ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	ss, err := acc.Accept(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ss.Close() })
	return l, acc, c, cs, ss
}

// TestPauseHeldRecvAfterClose: a socket closed while it holds what a Recv
// that gave up during a pause received hands it out no more: a Recv after
// Close fails as on any closed socket, and does not return a message
// whose lease the Close ended.
func TestPauseHeldRecvAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hp := newHostPair(t)
		ctx, srv, cs, ss := hp.ctx, hp.srv, hp.cs, hp.ss

		srv.Pause()
		require.NoError(t, cs.Send(ctx, msg(1)))
		short, cancel := context.WithTimeout(ctx, time.Second)
		_, err := ss.Recv(short)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded)
		srv.Resume()

		require.NoError(t, ss.Close())
		m, err := ss.Recv(ctx)
		require.ErrorIs(t, err, transport.ErrClosed, "a Recv after Close")
		require.Nil(t, m)
	})
}
