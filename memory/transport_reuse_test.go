package memory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
)

// streamOf is the stream under s, a socket of a host's memory transport.
func streamOf(s transport.Socket) *stream { return s.(*pauseNotifySocket).socket.st }

func msgOf(v string) *transport.Message {
	return &transport.Message{Header: map[string]string{"V": v}, Body: []byte(v)}
}

// reuseFixture is a connection between two hosts and the listener it
// dialled.
func reuseFixture(t *testing.T) (context.Context, transport.Listener, transport.Conn) {
	ctx := context.Background()
	n := MustNetwork()
	t.Cleanup(func() { n.Close() })
	l, err := n.Host("srv").Transport().Listen("")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	tc, err := n.Host("cli").Transport().Dial(ctx, l.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { tc.Close() })
	return ctx, l, tc
}

// openStream opens a stream on tc with first (nil: none) and accepts it
// on l: its client and server sockets.
func openStream(t *testing.T, ctx context.Context, l transport.Listener, tc transport.Conn, first *transport.Message) (cs, ss transport.Socket) {
	t.Helper()
	cs, err := tc.NewStream(ctx, first)
	require.NoError(t, err)
	ss, err = AcceptOne(ctx, l)
	require.NoError(t, err)
	return cs, ss
}

// TestStreamReuse: once both sockets of a stream are closed, the
// connection's next stream is the same stream with new sockets. The old
// sockets stay closed however they are used, and nothing they do reaches
// the stream's new use: not a CloseSend either way, a NotifyRecv that
// would replace the new reader's callback, a StopNotify that would cancel
// it (in the memory socket, or in the host pause layer's notification
// state, which the stream keeps for the next use of its side), or a
// message left unread in the old use.
func TestStreamReuse(t *testing.T) {
	ctx, l, tc := reuseFixture(t)
	recv := func(s transport.Socket) string {
		t.Helper()
		m, err := s.Recv(ctx)
		require.NoError(t, err)
		return string(m.Body)
	}

	cs1, ss1 := openStream(t, ctx, l, tc, msgOf("req1"))
	cs1.NotifyRecv(func(error) {}) // the side's notification state, which the stream keeps
	require.Equal(t, "req1", recv(ss1))
	require.NoError(t, ss1.SendClose(ctx, msgOf("rsp1")))
	require.Equal(t, "rsp1", recv(cs1))
	require.NoError(t, cs1.Close())

	cs2, ss2 := openStream(t, ctx, l, tc, msgOf("req2"))
	require.Same(t, streamOf(cs1), streamOf(cs2), "the stream both sides closed is the next one's")
	require.NotSame(t, cs1, cs2, "a socket is never reused")
	notified := make(chan error, 1)
	cs2.NotifyRecv(func(err error) { notified <- err })

	// The old sockets, closed, against the new use.
	for _, s := range []transport.Socket{cs1, ss1} {
		require.ErrorIs(t, s.Send(ctx, msgOf("stale")), transport.ErrClosed)
		_, err := s.Recv(ctx)
		require.ErrorIs(t, err, transport.ErrClosed)
		require.NoError(t, s.CloseSend())
		s.NotifyRecv(func(error) { t.Error("a closed socket's callback was called") })
		require.False(t, s.StopNotify())
		require.NoError(t, s.Close())
	}

	require.Equal(t, "req2", recv(ss2))
	require.NoError(t, ss2.Send(ctx, msgOf("rsp2")), "the old server socket's CloseSend ended nothing")
	select { // the Send called it, on its own goroutine
	case err := <-notified:
		require.NoError(t, err)
	default:
		t.Fatal("the new reader's callback was replaced or cancelled")
	}
	require.Equal(t, "rsp2", recv(cs2))
	require.NoError(t, cs2.Send(ctx, msgOf("more")), "the old client socket's CloseSend ended nothing")
	require.NoError(t, cs2.CloseSend())
	require.Equal(t, "more", recv(ss2))
	_, err := ss2.Recv(ctx)
	require.ErrorIs(t, err, io.EOF)
	require.NoError(t, ss2.Close())
	_, err = cs2.Recv(ctx)
	require.ErrorIs(t, err, io.EOF)
	require.NoError(t, cs2.Close())

	// A request nobody read is not the next use's.
	cs3, ss3 := openStream(t, ctx, l, tc, msgOf("unread"))
	require.Same(t, streamOf(cs1), streamOf(cs3))
	require.NoError(t, ss3.Close())
	require.NoError(t, cs3.Close())
	cs4, ss4 := openStream(t, ctx, l, tc, msgOf("req4"))
	require.Same(t, streamOf(cs1), streamOf(cs4))
	require.Equal(t, "req4", recv(ss4))
	require.NoError(t, ss4.Close())
	require.NoError(t, cs4.Close())
}

// TestStreamNotReusedUnderASend: a Send still copying when both sockets
// closed (the socket was closed from another goroutine) keeps the stream
// from its next use: the next stream is another one.
func TestStreamNotReusedUnderASend(t *testing.T) {
	ctx, l, tc := reuseFixture(t)
	cs, ss := openStream(t, ctx, l, tc, nil)
	sock := cs.(*pauseNotifySocket).socket
	sock.state.Add(1) // a Send between its check and its return
	require.NoError(t, cs.Close())
	require.NoError(t, ss.Close())
	sock.state.Add(-1)
	next, err := tc.NewStream(ctx, nil)
	require.NoError(t, err)
	require.NotSame(t, sock.st, streamOf(next), "recycled under a Send")
	require.NoError(t, next.Close())
}

// TestStreamReuseRace: many calls at once on one connection, whose
// streams are reused all the time, with every way a call can end (a
// reply and the end in one step, a server that closes without a reply, a
// client that gives up before the reply, a Close from another goroutine
// racing a Recv, callbacks armed and cancelled): every reply a client
// receives is its own request's, and every failure is a closed stream or
// its end. Run under the race detector (make test), it also finds a
// stream touched by a goroutine of a use that ended.
func TestStreamReuseRace(t *testing.T) {
	ctx, l, tc := reuseFixture(t)
	go func() {
		_ = l.Serve(func(s transport.Socket) {
			m, err := s.Recv(ctx)
			if err != nil {
				s.Close()
				return
			}
			id, seq := m.Header["Stream"], m.Header["Seq"]
			s.NotifyRecv(func(error) {})
			switch n, _ := strconv.Atoi(seq); n % 4 {
			case 0:
				s.StopNotify()
				_ = s.SendClose(ctx, numbered(id, seq))
			case 1:
				s.Close() // no reply
			case 2:
				go s.Close() // racing the Send
				_ = s.Send(ctx, numbered(id, seq))
				s.StopNotify()
			default:
				_ = s.Send(ctx, numbered(id, seq))
				_ = s.CloseSend()
				s.StopNotify()
				s.Close()
			}
		})
	}()
	const callers, calls = 8, 300
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for c := range callers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			id := strconv.Itoa(c)
			for i := range calls {
				seq := strconv.Itoa(i)
				cs, err := tc.NewStream(ctx, numbered(id, seq))
				if err != nil {
					errs <- err
					return
				}
				way := rng.IntN(3)
				switch way {
				case 0: // gives up at once
					cs.Close()
					continue
				case 1: // a Close from elsewhere races the Recv
					go cs.Close()
				}
				m, err := cs.Recv(ctx)
				switch {
				case err == nil && way == 1:
					// The racing Close ends the reply's lease whenever it
					// comes: the reply is not for reading.
				case err == nil:
					if m.Header["Stream"] != id || m.Header["Seq"] != seq || string(m.Body) != id+"/"+seq {
						errs <- fmt.Errorf("call %s/%s got the reply %v %q", id, seq, m.Header, m.Body)
						cs.Close()
						return
					}
				case !errors.Is(err, transport.ErrClosed) && !errors.Is(err, io.EOF):
					errs <- fmt.Errorf("call %s/%s: %w", id, seq, err)
					cs.Close()
					return
				}
				cs.Close()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func numbered(id, seq string) *transport.Message {
	return &transport.Message{Header: map[string]string{"Stream": id, "Seq": seq}, Body: []byte(id + "/" + seq)}
}

// TestReusedStreamHearsReset: a stream a callback was armed on stays
// registered with its connection as it is reused, so that the reset of
// the connection reaches a callback armed by a later use without that use
// registering it again.
func TestReusedStreamHearsReset(t *testing.T) {
	ctx, l, tc := reuseFixture(t)
	cs1, ss1 := openStream(t, ctx, l, tc, msgOf("req"))
	ss1.NotifyRecv(func(error) {}) // a request is waiting: called at once
	require.NoError(t, ss1.Close())
	require.NoError(t, cs1.Close())
	cs2, ss2 := openStream(t, ctx, l, tc, msgOf("req"))
	require.Same(t, streamOf(cs1), streamOf(cs2))
	_, err := ss2.Recv(ctx)
	require.NoError(t, err)
	got := make(chan error, 1)
	ss2.NotifyRecv(func(err error) { got <- err })
	require.NoError(t, tc.Close())
	select {
	case err := <-got:
		require.ErrorIs(t, err, transport.ErrReset)
	default:
		t.Fatal("the reset did not reach the callback armed on the reused stream")
	}
}
