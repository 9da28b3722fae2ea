package transporttest

import (
	"errors"
	"fmt"
	"io"
	"maps"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
)

// testBodyReleaser checks the optional transport.BodyReleaser of a Socket,
// when the transport has it: a message whose body was released keeps its
// header (map and strings) intact while the released bodies serve later
// messages in both directions; its Body is nil; a message that was not
// released never changes; ReleaseBody of a message the socket did not
// receive, or a second time, is ignored.
func testBodyReleaser(w *world) {
	t := w.t
	l, c, cs, ss := w.pair()
	if _, ok := ss.(transport.BodyReleaser); !ok {
		t.Skip("the socket does not implement transport.BodyReleaser")
	}

	// Requests one way, replies the other, one at a time on one
	// connection: the bodies released by the server are there to be
	// reused by the replies and by the later requests.
	const n = 40
	sent := w.goErr(func() error {
		for i := range n {
			if err := cs.Send(w.ctx, numbered(1, i)); err != nil {
				return err
			}
			m, err := cs.Recv(w.ctx)
			if err != nil {
				return err
			}
			if err := checkNumbered(m, 2, i); err != nil {
				return err
			}
		}
		if err := cs.CloseSend(); err != nil {
			return err
		}
		_, err := cs.Recv(w.ctx)
		if !errors.Is(err, io.EOF) {
			return fmt.Errorf("after the last reply: %v, want io.EOF", err)
		}
		return nil
	})
	var released, kept []*transport.Message
	var releasedSeq []int
	for i := range n {
		m, err := ss.Recv(w.ctx)
		require.NoError(t, err)
		require.NoError(t, checkNumbered(m, 1, i))
		if i%4 == 0 {
			kept = append(kept, m)
		} else {
			transport.ReleaseBody(ss, m)
			require.Nil(t, m.Body, "message %d: Body after ReleaseBody", i)
			transport.ReleaseBody(ss, m) // harmless
			released = append(released, m)
			releasedSeq = append(releasedSeq, i)
		}
		require.NoError(t, ss.Send(w.ctx, numbered(2, i)))
	}
	_, err := ss.Recv(w.ctx)
	require.ErrorIs(t, err, io.EOF)
	require.NoError(t, ss.Close())
	require.NoError(t, <-sent)
	for j, m := range kept {
		require.NoError(t, checkNumbered(m, 1, 4*j), "a message kept while other bodies were released")
	}
	for j, m := range released {
		want := numbered(1, releasedSeq[j]).Header
		require.True(t, maps.Equal(m.Header, want),
			"header of a message whose body was released changed: %v, want %v", m.Header, want)
		require.Nil(t, m.Body)
	}

	// Messages the socket cannot reuse are ignored: nil, one built here,
	// one of another socket, one received before the last.
	transport.ReleaseBody(ss, nil)
	own := numbered(9, 9)
	transport.ReleaseBody(ss, own)
	require.NoError(t, checkNumbered(own, 9, 9))
	cs2, ss2 := w.stream(l, c)
	transport.ReleaseBody(ss2, kept[1])
	require.NoError(t, checkNumbered(kept[1], 1, 4))
	sent = w.goErr(func() error { return sendN(w.ctx, cs2, 3, 2, false) })
	first, err := ss2.Recv(w.ctx)
	require.NoError(t, err)
	second, err := ss2.Recv(w.ctx)
	require.NoError(t, err)
	// An earlier message of the socket may or may not be taken back;
	// either way its header stays and the later message is untouched.
	transport.ReleaseBody(ss2, first)
	if first.Body != nil {
		require.NoError(t, checkNumbered(first, 3, 0), "ReleaseBody of a message before the last, not taken")
	} else {
		require.Equal(t, numbered(3, 0).Header, first.Header, "ReleaseBody of a message before the last, taken")
	}
	require.NoError(t, checkNumbered(second, 3, 1))
	require.NoError(t, <-sent)
	require.NoError(t, cs2.Close())
	require.NoError(t, ss2.Close())
}
