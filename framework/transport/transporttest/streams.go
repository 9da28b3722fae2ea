package transporttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
)

// numbered is message seq of stream id: headers and a body whose length
// varies with seq, so swapped, truncated or merged messages show.
func numbered(id, seq int) *transport.Message {
	return &transport.Message{
		Header: map[string]string{"Stream": strconv.Itoa(id), "Seq": strconv.Itoa(seq)},
		Body:   []byte(strings.Repeat(fmt.Sprintf("%d/%d;", id, seq), 1+seq%7)),
	}
}

// checkNumbered reports whether m is numbered(id, seq).
func checkNumbered(m *transport.Message, id, seq int) error {
	want := numbered(id, seq)
	if !maps.Equal(m.Header, want.Header) || !bytes.Equal(m.Body, want.Body) {
		return fmt.Errorf("stream %d message %d: got header %v body %q, want header %v body %q",
			id, seq, m.Header, m.Body, want.Header, want.Body)
	}
	return nil
}

// sendN sends numbered(id, 0..n-1) on s, then half-closes it if closeSend.
func sendN(ctx context.Context, s transport.Socket, id, n int, closeSend bool) error {
	for i := range n {
		if err := s.Send(ctx, numbered(id, i)); err != nil {
			return fmt.Errorf("stream %d: send %d: %w", id, i, err)
		}
	}
	if closeSend {
		return s.CloseSend()
	}
	return nil
}

// recvN receives numbered(id, 0..n-1) from s in order; with wantEOF it then
// expects io.EOF.
func recvN(ctx context.Context, s transport.Socket, id, n int, wantEOF bool) error {
	for i := range n {
		m, err := s.Recv(ctx)
		if err != nil {
			return fmt.Errorf("stream %d: recv %d of %d: %w", id, i, n, err)
		}
		if err := checkNumbered(m, id, i); err != nil {
			return err
		}
	}
	if wantEOF {
		if m, err := s.Recv(ctx); !errors.Is(err, io.EOF) {
			return fmt.Errorf("stream %d: after %d messages: got %v, %v; want io.EOF", id, n, m, err)
		}
	}
	return nil
}

func testUnaryRoundTrip(w *world) {
	t := w.t
	_, _, cs, ss := w.pair()
	req := &transport.Message{
		Header: map[string]string{"Micro-Endpoint": "Greeter.Hello", "X-Id": "42", "Empty": ""},
		Body:   []byte("hello, world"),
	}
	require.NoError(t, cs.Send(w.ctx, req))
	require.NoError(t, cs.CloseSend())

	got, err := ss.Recv(w.ctx)
	require.NoError(t, err)
	require.Equal(t, req.Header, got.Header)
	require.Equal(t, req.Body, got.Body)
	_, err = ss.Recv(w.ctx)
	require.ErrorIs(t, err, io.EOF)

	reply := &transport.Message{Header: map[string]string{"Status": "200"}, Body: bytes.Repeat([]byte{0, 1, 2, 255}, 1000)}
	sent := w.goErr(func() error {
		if err := ss.Send(w.ctx, reply); err != nil {
			return err
		}
		if err := ss.Send(w.ctx, &transport.Message{}); err != nil { // empty messages are messages too
			return err
		}
		return ss.Close()
	})

	got, err = cs.Recv(w.ctx)
	require.NoError(t, err)
	require.Equal(t, reply.Header, got.Header)
	require.Equal(t, reply.Body, got.Body)
	got, err = cs.Recv(w.ctx)
	require.NoError(t, err)
	require.Empty(t, got.Header)
	require.Empty(t, got.Body)
	_, err = cs.Recv(w.ctx)
	require.ErrorIs(t, err, io.EOF)
	require.NoError(t, <-sent)
}

// testOrdering sends 1000 messages one way, then 1000 the other way.
func testOrdering(w *world) {
	const n = 1000
	_, _, cs, ss := w.pair()
	sent := w.goErr(func() error { return sendN(w.ctx, cs, 1, n, true) })
	require.NoError(w.t, recvN(w.ctx, ss, 1, n, true))
	require.NoError(w.t, <-sent)

	sent = w.goErr(func() error { return sendN(w.ctx, ss, 2, n, true) })
	require.NoError(w.t, recvN(w.ctx, cs, 2, n, true))
	require.NoError(w.t, <-sent)
}

// testMessageCopy reuses one Message and its buffers for every Send and
// scribbles over it afterwards; the receiver must see each message as sent,
// and Send must leave the message as it was.
func testMessageCopy(w *world) {
	const n = 10
	_, _, cs, ss := w.pair()
	m := &transport.Message{Header: map[string]string{}, Body: make([]byte, 0, 64)}
	sent := w.goErr(func() error {
		for i := range n {
			want := numbered(7, i)
			clear(m.Header)
			maps.Copy(m.Header, want.Header)
			m.Body = append(m.Body[:0], want.Body...)
			if err := cs.Send(w.ctx, m); err != nil {
				return err
			}
			if !maps.Equal(m.Header, want.Header) || !bytes.Equal(m.Body, want.Body) {
				return fmt.Errorf("message %d: Send modified the caller's message: %v %q, sent %v %q", i, m.Header, m.Body, want.Header, want.Body)
			}
		}
		clear(m.Header)
		m.Header["Stream"] = "scribbled"
		for i := range m.Body[:cap(m.Body)] {
			m.Body[:cap(m.Body)][i] = 'X'
		}
		return cs.CloseSend()
	})
	require.NoError(w.t, recvN(w.ctx, ss, 7, n, true))
	require.NoError(w.t, <-sent)
}

// testConcurrentStreams runs 50 streams of 100 messages each way on one
// connection against an echo server.
func testConcurrentStreams(w *world) {
	const streams, n = 50, 100
	l := w.listen()
	c := w.dial(l)

	server := &group{w: w}
	server.Go(func() error {
		for range streams {
			ss, err := w.accept(l).Accept(w.ctx)
			if err != nil {
				return fmt.Errorf("accept: %w", err)
			}
			server.Go(func() error {
				defer ss.Close()
				for {
					m, err := ss.Recv(w.ctx)
					if errors.Is(err, io.EOF) {
						return ss.CloseSend()
					}
					if err != nil {
						return fmt.Errorf("echo recv: %w", err)
					}
					if err := ss.Send(w.ctx, m); err != nil {
						return fmt.Errorf("echo send: %w", err)
					}
				}
			})
		}
		return nil
	})

	clients := &group{w: w}
	for id := range streams {
		clients.Go(func() error {
			cs, err := c.NewStream(w.ctx, nil)
			if err != nil {
				return fmt.Errorf("stream %d: new stream: %w", id, err)
			}
			defer cs.Close()
			sent := w.goErr(func() error { return sendN(w.ctx, cs, id, n, true) })
			err = recvN(w.ctx, cs, id, n, true)
			return errors.Join(err, <-sent)
		})
	}
	require.NoError(w.t, clients.Wait())
	require.NoError(w.t, server.Wait())
}

// testBidirectional sends 1000 messages each way at once on one stream,
// each side calling Send and Recv concurrently.
func testBidirectional(w *world) {
	const n = 1000
	_, _, cs, ss := w.pair()
	g := &group{w: w}
	g.Go(func() error { return sendN(w.ctx, cs, 1, n, true) })
	g.Go(func() error { return sendN(w.ctx, ss, 2, n, true) })
	g.Go(func() error { return recvN(w.ctx, ss, 1, n, true) })
	g.Go(func() error { return recvN(w.ctx, cs, 2, n, true) })
	require.NoError(w.t, g.Wait())
}

// testMessageTooLarge checks the size limit, headers included, and that the
// stream carries on after a rejected message.
func testMessageTooLarge(w *world) {
	t := w.t
	max := w.s.MaxMessageSize
	if max <= 0 {
		t.Skip("Suite.MaxMessageSize not set")
	}
	_, _, cs, ss := w.pair()

	big := &transport.Message{Body: make([]byte, max+1)}
	err := cs.Send(w.ctx, big)
	require.ErrorIs(t, err, transport.ErrMessageTooLarge)
	require.Contains(t, err.Error(), strconv.Itoa(max+1), "the error names the message size")
	require.Contains(t, err.Error(), strconv.Itoa(max), "the error names the limit")

	headed := &transport.Message{Header: map[string]string{"0123456789": "x"}, Body: make([]byte, max-10)}
	require.Equal(t, max+1, headed.Size())
	require.ErrorIs(t, cs.Send(w.ctx, headed), transport.ErrMessageTooLarge, "headers count against the limit")
	require.ErrorIs(t, ss.Send(w.ctx, big), transport.ErrMessageTooLarge, "server side too")

	exact := &transport.Message{Body: bytes.Repeat([]byte{'e'}, max)}
	sent := w.goErr(func() error {
		if err := cs.Send(w.ctx, exact); err != nil {
			return fmt.Errorf("message of exactly the limit: %w", err)
		}
		return sendN(w.ctx, cs, 3, 2, true)
	})
	got, err := ss.Recv(w.ctx)
	require.NoError(t, err)
	require.Equal(t, max, len(got.Body))
	require.True(t, bytes.Equal(exact.Body, got.Body), "body of the message at the limit intact")
	require.NoError(t, recvN(w.ctx, ss, 3, 2, true))
	require.NoError(t, <-sent)

	require.NoError(t, ss.Send(w.ctx, numbered(4, 0)))
	require.NoError(t, recvN(w.ctx, cs, 4, 1, false))
}
