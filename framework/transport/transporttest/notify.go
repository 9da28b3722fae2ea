package transporttest

import (
	"errors"
	"io"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
)

// notified records the calls of a NotifyRecv's callback.
type notified struct {
	ch chan error
}

func newNotified() *notified { return &notified{ch: make(chan error, 2)} }

func (n *notified) f(err error) { n.ch <- err }

// wait returns the error the callback got; it fails the test if the
// callback is not called within long.
func (n *notified) wait(w *world, what string) error {
	w.t.Helper()
	select {
	case err := <-n.ch:
		return err
	case <-time.After(long):
		w.t.Fatalf("%s: NotifyRecv's callback was not called", what)
		return nil
	}
}

// none checks that the callback was not called (within short, in real time).
func (n *notified) none(w *world, what string) {
	w.t.Helper()
	w.settle()
	select {
	case err := <-n.ch:
		w.t.Fatalf("%s: NotifyRecv's callback was called (err %v)", what, err)
	case <-time.After(short):
	}
}

// testNotifyRecv checks NotifyRecv and StopNotify of the accepted
// (server) socket: the callback fires
// once for a message, the peer's CloseSend or Close, or a broken
// connection, at once when the event already happened, never for a local
// Close, and not after StopNotify.
func testNotifyRecv(w *world) {
	t := w.t
	l, c, cs, ss := w.pair()
	rn := ss

	// A message: the callback gets nil, once; Recv then has the message.
	n := newNotified()
	rn.NotifyRecv(n.f)
	n.none(w, "nothing sent yet")
	require.NoError(t, cs.Send(w.ctx, numbered(1, 0)))
	require.NoError(t, n.wait(w, "message"), "a waiting message")
	require.False(t, rn.StopNotify(), "StopNotify after the callback")
	recvSeq(w, ss, 1, 0)

	// Stopped before the event: never called.
	n = newNotified()
	rn.NotifyRecv(n.f)
	require.True(t, rn.StopNotify(), "StopNotify before any event")
	require.NoError(t, cs.Send(w.ctx, numbered(1, 1)))
	n.none(w, "after StopNotify")
	recvSeq(w, ss, 1, 1)

	// An event that already happened: called at once, on this goroutine.
	require.NoError(t, cs.Send(w.ctx, numbered(1, 2)))
	recvSeq(w, ss, 1, 2)
	require.NoError(t, cs.CloseSend())
	_, err := ss.Recv(w.ctx)
	require.ErrorIs(t, err, io.EOF)
	n = newNotified()
	rn.NotifyRecv(n.f)
	select {
	case err := <-n.ch:
		require.ErrorIs(t, err, io.EOF, "the peer's CloseSend")
	default:
		t.Fatal("NotifyRecv after the peer's CloseSend did not call back at once")
	}

	// The peer's Close.
	cs2, ss2 := w.stream(l, c)
	rn2 := ss2
	n = newNotified()
	rn2.NotifyRecv(n.f)
	require.NoError(t, cs2.Close())
	require.ErrorIs(t, n.wait(w, "peer Close"), io.EOF)

	// A local Close does not count.
	_, ss3 := w.stream(l, c)
	rn3 := ss3
	n = newNotified()
	rn3.NotifyRecv(n.f)
	require.NoError(t, ss3.Close())
	n.none(w, "local Close")
	rn3.StopNotify()

	// A broken connection.
	_, ss4 := w.stream(l, c)
	rn4 := ss4
	n = newNotified()
	rn4.NotifyRecv(n.f)
	require.NoError(t, c.Close())
	err = n.wait(w, "connection closed")
	require.Error(t, err)
	require.True(t, errors.Is(err, transport.ErrReset) || errors.Is(err, transport.ErrClosed) || errors.Is(err, io.EOF),
		"a broken connection: %v", err)
}

// recvSeq receives one message and checks it is message seq of stream id.
func recvSeq(w *world, s transport.Socket, id, seq int) {
	w.t.Helper()
	m, err := s.Recv(w.ctx)
	require.NoError(w.t, err)
	require.NoError(w.t, checkNumbered(m, id, seq))
}
