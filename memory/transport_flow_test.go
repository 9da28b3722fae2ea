package memory_test

import (
	"context"
	"io"
	"runtime"
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
		l, err := n.Host("srv").Transport().Listen("")
		require.NoError(t, err)
		c, err := n.Host("cli").Transport().Dial(ctx, l.Addr())
		require.NoError(t, err)
		for range backlog {
			_, err := c.NewStream(ctx)
			require.NoError(t, err)
		}
		short, cancel := context.WithTimeout(ctx, time.Second)
		_, err = c.NewStream(short)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded, "NewStream with a full backlog waits for ctx")

		opened := make(chan error, 1)
		go func() {
			s, err := c.NewStream(ctx)
			if err == nil {
				err = s.Send(ctx, msg(7))
			}
			opened <- err
		}()
		requireBlocked(t, opened, "NewStream with a full backlog")
		for range backlog {
			_, err := l.Accept(ctx)
			require.NoError(t, err)
		}
		require.NoError(t, requireDone(t, opened, "NewStream after Accept made room"))
		ss, err := l.Accept(ctx)
		require.NoError(t, err)
		requireMsg(t, ctx, ss, 7)

		// A NewStream blocked on the backlog is released by Conn.Close and
		// by Listener.Close.
		for range backlog {
			_, err := c.NewStream(ctx)
			require.NoError(t, err)
		}
		go func() { _, err := c.NewStream(ctx); opened <- err }()
		requireBlocked(t, opened, "NewStream with a full backlog")
		require.NoError(t, c.Close())
		require.ErrorIs(t, requireDone(t, opened, "NewStream after Conn.Close"), transport.ErrClosed)

		// The closed connection's streams keep their slots until Accept
		// discards them, so the backlog is still full.
		c2, err := n.Host("cli").Transport().Dial(ctx, l.Addr())
		require.NoError(t, err)
		go func() { _, err := c2.NewStream(ctx); opened <- err }()
		requireBlocked(t, opened, "NewStream with a full backlog")
		require.NoError(t, l.Close())
		require.ErrorIs(t, requireDone(t, opened, "NewStream after Listener.Close"), transport.ErrRefused)
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
			cs, err := c.NewStream(ctx)
			require.NoError(t, err)
			require.NoError(t, cs.Send(ctx, msg(i)))
			ss, err := l.Accept(ctx)
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
