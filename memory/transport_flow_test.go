package memory_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/memory"
)

// requireBlocked fails if ch already has a result once the bubble settled.
func requireBlocked(t *testing.T, ch <-chan error, what string) {
	t.Helper()
	synctest.Wait()
	select {
	case err := <-ch:
		t.Fatalf("%s returned %v; want it blocked", what, err)
	default:
	}
}

// requireDone returns ch's result, failing if it has none once the bubble settled.
func requireDone(t *testing.T, ch <-chan error, what string) error {
	t.Helper()
	synctest.Wait()
	select {
	case err := <-ch:
		return err
	default:
		t.Fatalf("%s still blocked", what)
		return nil
	}
}

func TestSendBackpressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const buf = 4
		ctx := testCtx(t)
		n := memory.MustNetwork(memory.WithStreamBuffer(buf))
		defer n.Close()
		_, _, cs, ss := streamPair(t, n.Host("srv"), n.Host("cli"), "")
		for i := range buf {
			require.NoError(t, cs.Send(ctx, msg(i)), "message %d fits the buffer", i)
		}
		sent := make(chan error, 1)
		go func() { sent <- cs.Send(ctx, msg(buf)) }()
		requireBlocked(t, sent, "Send into a full buffer")

		requireMsg(t, ctx, ss, 0)
		require.NoError(t, requireDone(t, sent, "Send after the peer read one"))
		for i := 1; i <= buf; i++ {
			requireMsg(t, ctx, ss, i)
		}

		// A blocked Send is released by either side's Close.
		for i := range buf {
			require.NoError(t, ss.Send(ctx, msg(i)))
		}
		go func() { sent <- ss.Send(ctx, msg(buf)) }()
		requireBlocked(t, sent, "server Send into a full buffer")
		require.NoError(t, cs.Close())
		require.ErrorIs(t, requireDone(t, sent, "Send after the peer closed"), transport.ErrClosed)
	})
}

func TestAcceptBacklog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const backlog = 2
		ctx := testCtx(t)
		n := memory.MustNetwork(memory.WithAcceptBacklog(backlog))
		defer n.Close()
		l, c := listenDial(t, ctx, n)
		for range backlog {
			_, err := c.NewStream(ctx, nil)
			require.NoError(t, err)
		}
		short, cancel := context.WithTimeout(ctx, time.Second)
		_, err := c.NewStream(short, nil)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded, "NewStream with a full backlog waits for ctx")

		opened := make(chan error, 1)
		go func() {
			s, err := c.NewStream(ctx, nil)
			if err == nil {
				err = s.Send(ctx, msg(7))
			}
			opened <- err
		}()
		requireBlocked(t, opened, "NewStream with a full backlog")
		for range backlog {
			_, err := memory.AcceptOne(ctx, l)
			require.NoError(t, err)
		}
		require.NoError(t, requireDone(t, opened, "NewStream after Accept made room"))
		ss, err := memory.AcceptOne(ctx, l)
		require.NoError(t, err)
		requireMsg(t, ctx, ss, 7)

		// A NewStream blocked on the backlog is released by Conn.Close and
		// by Listener.Close.
		for range backlog {
			_, err := c.NewStream(ctx, nil)
			require.NoError(t, err)
		}
		go func() { _, err := c.NewStream(ctx, nil); opened <- err }()
		requireBlocked(t, opened, "NewStream with a full backlog")
		require.NoError(t, c.Close())
		require.ErrorIs(t, requireDone(t, opened, "NewStream after Conn.Close"), transport.ErrClosed)

		// The closed connection's streams keep their slots until Accept
		// discards them, so the backlog is still full.
		c2, err := n.Host("cli").Transport().Dial(ctx, l.Addr())
		require.NoError(t, err)
		go func() { _, err := c2.NewStream(ctx, nil); opened <- err }()
		requireBlocked(t, opened, "NewStream with a full backlog")
		require.NoError(t, l.Close())
		require.ErrorIs(t, requireDone(t, opened, "NewStream after Listener.Close"), transport.ErrRefused)
	})
}

// TestParkedAccepts: Accepts parked on a listener are woken each by what
// concerns it: a new stream wakes one (the last parked); the end of the
// ctx the listener watches (the first cancellable one it saw) wakes those
// that wait with it and no other; an Accept with another ctx ends with
// that ctx; Close ends the rest with ErrClosed.
func TestParkedAccepts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		n := memory.MustNetwork()
		defer n.Close()
		l, c := listenDial(t, ctx, n)

		// park starts an Accept with ctx and waits until it is parked.
		park := func(ctx context.Context) <-chan error {
			got := make(chan error, 1)
			go func() {
				s, err := memory.AcceptOne(ctx, l)
				if err == nil {
					_, err = s.Recv(ctx)
				}
				got <- err
			}()
			requireBlocked(t, got, "Accept")
			return got
		}
		watched, endWatched := context.WithCancel(ctx)
		first := []<-chan error{park(watched), park(watched), park(watched)}
		other, endOther := context.WithCancel(ctx)
		second := park(other)
		last := park(context.Background())

		s, err := c.NewStream(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, s.Send(ctx, msg(1)))
		require.NoError(t, requireDone(t, last, "the last parked Accept"), "it took the stream")
		for i, ch := range first {
			requireBlocked(t, ch, fmt.Sprintf("Accept %d with the watched ctx", i))
		}
		requireBlocked(t, second, "Accept with another ctx")

		endOther()
		require.ErrorIs(t, requireDone(t, second, "Accept after its ctx ended"), context.Canceled)
		for i, ch := range first {
			requireBlocked(t, ch, fmt.Sprintf("Accept %d with the watched ctx", i))
		}

		endWatched()
		for i, ch := range first {
			require.ErrorIs(t, requireDone(t, ch, fmt.Sprintf("Accept %d after the watched ctx ended", i)), context.Canceled)
		}

		closed := park(context.Background())
		require.NoError(t, l.Close())
		require.ErrorIs(t, requireDone(t, closed, "Accept after Close"), transport.ErrClosed)
	})
}

// TestResetWakesEveryWait: a reset of the connection ends a Recv waiting
// for a message and a Send waiting for room, on either side, and a Recv
// after the reset fails even with messages queued.
func TestResetWakesEveryWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		n := memory.MustNetwork(memory.WithStreamBuffer(1))
		defer n.Close()
		l, c, cs, ss := streamPair(t, n.Host("srv"), n.Host("cli"), "")
		cs2, err := c.NewStream(ctx, nil)
		require.NoError(t, err)
		_, err = memory.AcceptOne(ctx, l)
		require.NoError(t, err)
		require.NoError(t, ss.Send(ctx, msg(0)), "fills the client's buffer")
		waits := make(chan error, 3)
		go func() { waits <- ss.Send(ctx, msg(1)) }()
		go func() { _, err := ss.Recv(ctx); waits <- err }()
		go func() { _, err := cs2.Recv(context.Background()); waits <- err }()
		requireBlocked(t, waits, "Send and Recvs")

		n.Host("srv").Crash()
		for i := range 3 {
			require.ErrorIs(t, requireDone(t, waits, fmt.Sprintf("wait %d after the reset", i)), transport.ErrReset)
		}
		_, err = cs.Recv(ctx)
		require.ErrorIs(t, err, transport.ErrReset, "Recv after the reset, with a message queued")
	})
}

// TestCloseDeliversFullBufferFirst: when the peer's Close and a full buffer
// are both ready, Recv hands out every message before io.EOF.
func TestCloseDeliversFullBufferFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const buf = 64
		ctx := testCtx(t)
		n := memory.MustNetwork(memory.WithStreamBuffer(buf))
		defer n.Close()
		_, _, cs, ss := streamPair(t, n.Host("srv"), n.Host("cli"), "")
		for i := range buf {
			require.NoError(t, cs.Send(ctx, msg(i)))
		}
		require.NoError(t, cs.Close())
		for i := range buf {
			requireMsg(t, ctx, ss, i)
		}
		for range 3 {
			_, err := ss.Recv(ctx)
			require.ErrorIs(t, err, io.EOF)
		}
	})
}

// TestVirtualTime: 1000 request/reply exchanges with a 50 ms server delay
// take 50 s of virtual time and a fraction of that in wall time.
func TestVirtualTime(t *testing.T) {
	const rounds, delay = 1000, 50 * time.Millisecond
	wallStart := time.Now()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		n := memory.MustNetwork()
		defer n.Close()
		_, _, cs, ss := streamPair(t, n.Host("srv"), n.Host("cli"), "")
		start := time.Now()
		served := make(chan error, 1)
		go func() {
			for {
				m, err := ss.Recv(ctx)
				if err == io.EOF {
					served <- nil
					return
				}
				if err != nil {
					served <- err
					return
				}
				time.Sleep(delay)
				if err := ss.Send(ctx, m); err != nil {
					served <- err
					return
				}
			}
		}()
		for i := range rounds {
			require.NoError(t, cs.Send(ctx, msg(i)))
			requireMsg(t, ctx, cs, i)
		}
		require.NoError(t, cs.CloseSend())
		require.NoError(t, <-served)
		require.Equal(t, rounds*delay, time.Since(start), "virtual time")
	})
	require.Less(t, time.Since(wallStart), rounds*delay/5, "wall time")
}

// TestNoGoroutines: streams, messages and closes start no goroutines.
func TestNoGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		n := memory.MustNetwork()
		defer n.Close()
		before := runtime.NumGoroutine()
		l, c, _, _ := streamPair(t, n.Host("srv"), n.Host("cli"), "")
		for i := range 100 {
			cs, err := c.NewStream(ctx, nil)
			require.NoError(t, err)
			require.NoError(t, cs.Send(ctx, msg(i)))
			ss, err := memory.AcceptOne(ctx, l)
			require.NoError(t, err)
			requireMsg(t, ctx, ss, i)
			require.NoError(t, ss.Send(ctx, msg(i)))
			if i%2 == 0 {
				require.NoError(t, cs.Close())
			}
		}
		require.NoError(t, c.Close())
		// NumGoroutine counts the whole process, where a goroutine of an
		// earlier test may still be exiting: allow fewer, never more.
		require.LessOrEqual(t, runtime.NumGoroutine(), before)
	})
}

// TestMessageCopies checks what Send copies: the receiver owns what it
// gets, whether it travels in the stream's slot for the first message or
// in a Message of its own, and a nil Header or Body stays nil (as on TCP)
// while an empty one stays empty.
func TestMessageCopies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		n := memory.MustNetwork()
		defer n.Close()
		_, _, cs, ss := streamPair(t, n.Host("srv"), n.Host("cli"), "")
		m := &transport.Message{Header: map[string]string{"K": "v"}, Body: []byte("body")}
		for i := range 3 {
			require.NoError(t, cs.Send(ctx, m))
			m.Header["K"] = "scribbled"
			m.Body[0] = 'X'
			got, err := ss.Recv(ctx)
			require.NoError(t, err)
			require.Equal(t, &transport.Message{Header: map[string]string{"K": "v"}, Body: []byte("body")}, got, "message %d", i)
			got.Header["K"], got.Body[1] = "mine", 'Y' // the receiver's to change
			m.Header["K"], m.Body[0] = "v", 'b'
		}
		for _, m := range []*transport.Message{{}, {Header: map[string]string{}, Body: []byte{}}, {Body: []byte("b")}, {Header: map[string]string{"K": ""}}} {
			require.NoError(t, ss.Send(ctx, m))
			got, err := cs.Recv(ctx)
			require.NoError(t, err)
			require.Equal(t, m.Header == nil, got.Header == nil, "nil Header of %+v", m)
			require.Equal(t, m.Body == nil, got.Body == nil, "nil Body of %+v", m)
			require.Equal(t, m, got)
		}
	})
}

// TestWakeChannelsReused runs many streams one after the other on one
// connection, each waiting on both sides (Recv before the message, Send on
// a full buffer), some closed while a Recv of theirs still waits: the wake
// channels that ended streams hand back must carry no stale token into the
// next stream and never be taken from a goroutine still waiting on them.
func TestWakeChannelsReused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		n := memory.MustNetwork(memory.WithStreamBuffer(1))
		defer n.Close()
		l, err := n.Host("srv").Transport().Listen("")
		require.NoError(t, err)
		defer l.Close()
		c, err := n.Host("cli").Transport().Dial(ctx, l.Addr())
		require.NoError(t, err)
		defer c.Close()
		for i := range 50 {
			cs, err := c.NewStream(ctx, nil)
			require.NoError(t, err)
			ss, err := memory.AcceptOne(ctx, l)
			require.NoError(t, err)

			got := make(chan error, 1)
			go func() {
				m, err := ss.Recv(ctx)
				if err == nil && m.Header["Seq"] != msg(i).Header["Seq"] {
					err = io.ErrUnexpectedEOF
				}
				got <- err
			}()
			requireBlocked(t, got, "Recv before the request")
			require.NoError(t, cs.Send(ctx, msg(i)))
			require.NoError(t, requireDone(t, got, "Recv of the request"))

			require.NoError(t, ss.Send(ctx, msg(i)))
			sent := make(chan error, 1)
			go func() { sent <- ss.Send(ctx, msg(i+1)) }()
			requireBlocked(t, sent, "Send into a full buffer")
			requireMsg(t, ctx, cs, i)
			require.NoError(t, requireDone(t, sent, "Send after the client read"))
			requireMsg(t, ctx, cs, i+1)

			if i%2 == 1 {
				// Both sides close while a Recv of each still waits.
				go func() { _, err := ss.Recv(ctx); got <- err }()
				go func() { _, err := cs.Recv(ctx); sent <- err }()
				synctest.Wait()
				require.NoError(t, cs.Close())
				require.NoError(t, ss.Close())
				if err := <-got; !errors.Is(err, io.EOF) {
					require.ErrorIs(t, err, transport.ErrClosed, "the server's Recv: the peer's end or its own Close")
				}
				require.ErrorIs(t, <-sent, transport.ErrClosed)
				continue
			}
			require.NoError(t, cs.Close())
			require.NoError(t, ss.Close())
		}
	})
}

// TestWakeChannelsReusedRealTime races streams of one connection in real
// time: echo exchanges whose waits take and hand back wake channels, with
// a Close racing each side's pending Recv. A wait that lost its wake-up to
// a recycled channel would hang until the test's deadline.
func TestWakeChannelsReusedRealTime(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	n := memory.MustNetwork(memory.WithStreamBuffer(1))
	defer n.Close()
	l, err := n.Host("srv").Transport().Listen("")
	require.NoError(t, err)
	defer l.Close()
	c, err := n.Host("cli").Transport().Dial(ctx, l.Addr())
	require.NoError(t, err)
	defer c.Close()

	const workers, rounds = 8, 300
	var srv sync.WaitGroup
	for range workers {
		srv.Go(func() {
			for {
				ss, err := memory.AcceptOne(ctx, l)
				if err != nil {
					return
				}
				if m, err := ss.Recv(ctx); err == nil {
					_ = ss.Send(ctx, m)
					_, _ = ss.Recv(ctx) // the client's Close ends it
				}
				_ = ss.Close()
			}
		})
	}
	var cli sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		cli.Go(func() {
			for i := range rounds {
				cs, err := c.NewStream(ctx, nil)
				if err != nil {
					errs <- err
					return
				}
				want := msg(w*rounds + i)
				if err := cs.Send(ctx, want); err != nil {
					errs <- err
					return
				}
				got, err := cs.Recv(ctx)
				if err != nil || got.Header["Seq"] != want.Header["Seq"] {
					errs <- fmt.Errorf("round %d: got %v, %v", i, got, err)
					return
				}
				if i%2 == 0 {
					pending := make(chan struct{})
					go func() { defer close(pending); _, _ = cs.Recv(ctx) }()
					runtime.Gosched()
					_ = cs.Close()
					<-pending
				} else {
					_ = cs.Close()
				}
			}
		})
	}
	cli.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, ctx.Err(), "a wait hung")
	_ = l.Close()
	srv.Wait()
}
