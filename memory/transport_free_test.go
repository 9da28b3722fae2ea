package memory

import (
	"fmt"
	"io"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
)

// TestFreedStreamsAreReused: a stream whose two sockets were freed
// (transport.Freer) goes back to its connection and a later stream reuses
// it, cleared: each round's request and reply arrive intact and the end of
// the stream reads as io.EOF again; a second Free is ignored (the stream is
// never handed out twice). A stream freed on one side only, even twice, is
// never reused.
func TestFreedStreamsAreReused(t *testing.T) {
	const rounds = 100
	for _, both := range []bool{true, false} {
		t.Run(fmt.Sprintf("both=%v", both), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				n := MustNetwork()
				defer n.Close()
				l, err := n.Host("srv").Transport().Listen("")
				require.NoError(t, err)
				defer l.Close()
				c, err := n.Host("cli").Transport().Dial(ctx, l.Addr())
				require.NoError(t, err)
				defer c.Close()

				seen := map[*stream]bool{}
				reused := 0
				for i := range rounds {
					req := &transport.Message{Header: map[string]string{"Seq": fmt.Sprint(i)}, Body: fmt.Appendf(nil, "request %d", i)}
					cs, err := c.NewStream(ctx, req)
					require.NoError(t, err)
					st := cs.(*pauseNotifySocket).st
					if seen[st] {
						reused++
					}
					seen[st] = true
					// Streams open at the same time never share memory.
					open := map[*stream]bool{st: true}
					var extra []transport.Socket
					for range 2 {
						cx, err := c.NewStream(ctx, nil)
						require.NoError(t, err)
						x := cx.(*pauseNotifySocket).st
						require.False(t, open[x], "round %d: two open streams share a stream", i)
						open[x] = true
						extra = append(extra, cx)
					}
					ss, err := rawListener(l).accept(ctx)
					require.NoError(t, err)
					for range extra {
						sx, err := rawListener(l).accept(ctx)
						require.NoError(t, err)
						extra = append(extra, sx)
					}
					got, err := ss.Recv(ctx)
					require.NoError(t, err)
					require.Equal(t, req, got, "round %d: the request", i)
					transport.Release(ss, got)
					rep := &transport.Message{Header: map[string]string{"Seq": fmt.Sprint(i)}, Body: fmt.Appendf(nil, "reply %d", i)}
					require.NoError(t, ss.SendClose(ctx, rep))
					got, err = cs.Recv(ctx)
					require.NoError(t, err)
					require.Equal(t, rep, got, "round %d: the reply", i)
					transport.Release(cs, got)
					_, err = cs.Recv(ctx)
					require.ErrorIs(t, err, io.EOF, "round %d: the end of the stream", i)
					for _, x := range extra {
						transport.Free(x)
					}
					transport.Free(cs)
					if both {
						transport.Free(ss)
					} else {
						require.NoError(t, ss.Close())
					}
					transport.Free(cs) // a second Free: ignored
				}
				if !both {
					require.Zero(t, reused, "a stream freed by one side only was reused")
					return
				}
				// A GC may empty the connection's pool now and then; nearly
				// every round reuses a stream. Under the race detector the
				// pool drops a quarter of what it is given, at random.
				want := rounds * 9 / 10
				if raceEnabled {
					want = rounds / 4
				}
				t.Logf("%d of %d rounds reused a stream", reused, rounds)
				require.Greater(t, reused, want, "streams reused")
			})
		})
	}
}
