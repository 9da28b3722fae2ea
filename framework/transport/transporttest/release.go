package transporttest

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
)

// testReleaser checks the optional transport.Releaser of a Socket, when the
// transport has it. The memory of released messages is reused for later
// ones; a message that was not released must never change, whatever is
// released around it — twice, concurrently, on the wrong socket, after
// Close — and released memory must never end up in two live messages.
func testReleaser(w *world) {
	t := w.t
	l, c, cs, ss := w.pair()
	if _, ok := ss.(transport.Releaser); !ok {
		t.Skip("the socket does not implement transport.Releaser")
	}

	// One stream: keep every third message (the first among them),
	// release the others twice; then the kept ones must be intact.
	const n = 60
	sent := w.goErr(func() error { return sendN(w.ctx, cs, 1, n, true) })
	var kept []*transport.Message
	for i := range n {
		m, err := ss.Recv(w.ctx)
		require.NoError(t, err)
		require.NoError(t, checkNumbered(m, 1, i))
		if i%3 == 0 {
			kept = append(kept, m)
			continue
		}
		transport.Release(ss, m)
		transport.Release(ss, m) // harmless
	}
	_, err := ss.Recv(w.ctx)
	require.ErrorIs(t, err, io.EOF)
	require.NoError(t, <-sent)
	for j, m := range kept {
		require.NoError(t, checkNumbered(m, 1, 3*j), "a message kept while others were released")
	}

	// Messages the socket cannot reuse are ignored: nil, one built here,
	// one of another socket (kept[1], from ss, released on the next
	// stream's socket), and Release after Close.
	transport.Release(ss, nil)
	transport.Release(ss, numbered(9, 9))
	cs2, ss2 := w.stream(l, c)
	transport.Release(ss2, kept[1])
	require.NoError(t, cs2.Send(w.ctx, numbered(2, 0)))
	m, err := ss2.Recv(w.ctx)
	require.NoError(t, err)
	require.NoError(t, checkNumbered(m, 2, 0))
	require.NoError(t, ss2.Close())
	transport.Release(ss2, m)

	// Many streams at once, each releasing its first message from two
	// goroutines at once and keeping the rest: a double reuse would put
	// two kept messages in the same memory.
	const streams, per = 8, 12
	g := &group{w: w}
	for id := 10; id < 10+streams; id++ {
		cs, ss := w.stream(l, c)
		g.Go(func() error { return sendN(w.ctx, cs, id, per, true) })
		g.Go(func() error {
			first, err := ss.Recv(w.ctx)
			if err != nil {
				return err
			}
			if err := checkNumbered(first, id, 0); err != nil {
				return err
			}
			var both sync.WaitGroup
			for range 2 {
				both.Go(func() { transport.Release(ss, first) })
			}
			both.Wait()
			var kept []*transport.Message
			for i := 1; i < per; i++ {
				m, err := ss.Recv(w.ctx)
				if err != nil {
					return fmt.Errorf("stream %d: recv %d: %w", id, i, err)
				}
				kept = append(kept, m)
			}
			if _, err := ss.Recv(w.ctx); !errors.Is(err, io.EOF) {
				return fmt.Errorf("stream %d: after %d messages: %v, want io.EOF", id, per, err)
			}
			for i, m := range kept {
				if err := checkNumbered(m, id, i+1); err != nil {
					return fmt.Errorf("kept while others were released: %w", err)
				}
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
	for j, m := range kept {
		require.NoError(t, checkNumbered(m, 1, 3*j), "a message kept on the first stream, at the end")
	}
}

// testFreer: a transport that reuses freed sockets (transport.Freer) gives
// each later stream a clean one. 40 rounds of three streams open at once,
// each freed on both sides (and once more on the client, which is
// ignored), carry every message intact and end with io.EOF; the header
// and body of a message kept unreleased (its *Message is the transport's
// again after Free) never change while later streams reuse the memory.
func testFreer(w *world) {
	t := w.t
	l := w.listen()
	c := w.dial(l)
	const rounds, open = 40, 3
	type keptMsg struct {
		id     int
		header map[string]string
		body   []byte
	}
	var kept []keptMsg
	for r := range rounds {
		var cs, ss []transport.Socket
		for i := range open {
			id := r*open + i
			s, err := c.NewStream(w.ctx, nil)
			require.NoError(t, err)
			if _, ok := s.(transport.Freer); !ok {
				require.NoError(t, s.Close())
				t.Skip("the socket does not implement transport.Freer")
			}
			require.NoError(t, s.Send(w.ctx, numbered(id, 0)))
			require.NoError(t, s.CloseSend())
			a, err := w.accept(l).Accept(w.ctx)
			require.NoError(t, err)
			cs, ss = append(cs, s), append(ss, a)
		}
		for i := range open {
			id := r*open + i
			m, err := ss[i].Recv(w.ctx)
			require.NoError(t, err)
			require.NoError(t, checkNumbered(m, id, 0), "round %d", r)
			if i == 0 {
				kept = append(kept, keptMsg{id, m.Header, m.Body})
			} else {
				transport.Release(ss[i], m)
			}
			_, err = ss[i].Recv(w.ctx)
			require.ErrorIs(t, err, io.EOF, "round %d stream %d", r, i)
			require.NoError(t, ss[i].Send(w.ctx, numbered(id, 1)))
			require.NoError(t, ss[i].CloseSend())
			m, err = cs[i].Recv(w.ctx)
			require.NoError(t, err)
			require.NoError(t, checkNumbered(m, id, 1), "round %d", r)
			transport.Release(cs[i], m)
			_, err = cs[i].Recv(w.ctx)
			require.ErrorIs(t, err, io.EOF, "round %d stream %d", r, i)
		}
		for i := range open {
			transport.Free(cs[i])
			transport.Free(ss[i])
			transport.Free(cs[i]) // a second Free: ignored
		}
	}
	for _, k := range kept {
		require.NoError(t, checkNumbered(&transport.Message{Header: k.header, Body: k.body}, k.id, 0),
			"a message kept unreleased while later streams reused freed ones")
	}
}
