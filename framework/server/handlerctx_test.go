package server

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/transport"
)

// fakeSocket is a Socket whose Recv blocks until end is closed.
type fakeSocket struct {
	transport.Socket
	end chan struct{}
}

func (s *fakeSocket) Recv(ctx context.Context) (*transport.Message, error) {
	select {
	case <-s.end:
		return nil, io.EOF
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// notifySocket adds a NotifyRecv the test fires to fakeSocket.
type notifySocket struct {
	fakeSocket
	mu sync.Mutex
	f  func(error)
}

func (s *notifySocket) NotifyRecv(f func(error)) { s.mu.Lock(); s.f = f; s.mu.Unlock() }

func (s *notifySocket) StopNotify() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	stopped := s.f != nil
	s.f = nil
	return stopped
}

func (s *notifySocket) fire(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		s.f(err)
		s.f = nil
	}
}

// newTestHandlerCtx is a handler ctx on sock over an empty-metadata base.
func newTestHandlerCtx(sock transport.Socket, timeout time.Duration, hasTimeout bool, header map[string]string, watch bool) *handlerCtx {
	base := metadata.NewContext(context.Background(), nil)
	return newHandlerCtx(base, sock, timeout, hasTimeout, header, watch)
}

func TestHandlerCtxIsLazy(t *testing.T) {
	timeout := time.Minute
	h := newTestHandlerCtx(&notifySocket{fakeSocket: fakeSocket{end: make(chan struct{})}}, timeout, true, map[string]string{"X-User": "ana", "Micro-Service": "s"}, true)
	dl, ok := h.Deadline()
	require.True(t, ok)
	assert.WithinDuration(t, time.Now().Add(time.Minute), dl, time.Second)
	assert.False(t, h.built.Load(), "Deadline builds nothing")

	md, ok := metadata.FromContext(h)
	require.True(t, ok)
	assert.Equal(t, metadata.MD{"X-User": "ana"}, md)
	assert.True(t, h.built.Load())
	got, _ := h.use().Deadline()
	assert.Equal(t, dl, got, "the built ctx has the same deadline")
	assert.NoError(t, h.Err())
	h.end()
	assert.ErrorIs(t, h.Err(), context.Canceled, "cancelled once the handler returned")

	// Never used while the handler ran: usable, and cancelled, afterwards.
	h = newTestHandlerCtx(&notifySocket{fakeSocket: fakeSocket{end: make(chan struct{})}}, 0, false, map[string]string{"Micro-Service": "s"}, true)
	h.end()
	assert.False(t, h.built.Load())
	md, ok = metadata.FromContext(h)
	assert.True(t, ok, "metadata present, empty")
	assert.Empty(t, md)
	select {
	case <-h.Done():
	default:
		t.Fatal("a ctx built after the handler returned is not cancelled")
	}
	_, ok = h.Deadline()
	assert.False(t, ok, "no timeout, no deadline")
}

func TestHandlerCtxDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		timeout := 20 * time.Millisecond
		h := newTestHandlerCtx(&notifySocket{fakeSocket: fakeSocket{end: make(chan struct{})}}, timeout, true, nil, false)
		start := time.Now()
		<-h.Done()
		assert.Equal(t, timeout, time.Since(start))
		assert.ErrorIs(t, h.Err(), context.DeadlineExceeded)
		child, cancel := context.WithCancel(h)
		defer cancel()
		assert.ErrorIs(t, child.Err(), context.DeadlineExceeded, "a child sees DeadlineExceeded")
		h.end()
	})
}

// TestHandlerCtxUnbuiltErr: before the ctx is built, Err says what the
// built ctx would: nil, DeadlineExceeded once the deadline passed (also
// when the handler returns after it), Canceled once cancelled before it.
func TestHandlerCtxUnbuiltErr(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sock := func() *notifySocket { return &notifySocket{fakeSocket: fakeSocket{end: make(chan struct{})}} }
		h := newTestHandlerCtx(sock(), time.Second, true, nil, true)
		assert.NoError(t, h.Err())
		time.Sleep(time.Second)
		assert.ErrorIs(t, h.Err(), context.DeadlineExceeded)
		h.end() // after the deadline
		assert.ErrorIs(t, h.Err(), context.DeadlineExceeded)
		assert.False(t, h.built.Load())
		assert.ErrorIs(t, context.Cause(h), context.DeadlineExceeded, "built now: ended by its deadline")
		assert.ErrorIs(t, h.Err(), context.DeadlineExceeded)

		h = newTestHandlerCtx(sock(), time.Second, true, nil, true)
		h.end() // before the deadline
		time.Sleep(2 * time.Second)
		assert.ErrorIs(t, h.Err(), context.Canceled)
		assert.ErrorIs(t, context.Cause(h), context.Canceled)
	})
}

// TestHandlerCtxWakeOnCancel: a waiter registered through WakeOnCancel
// arms the caller-gone watch without building the ctx and gets its token
// when the caller goes away, or when Stop abandons the call; the cause is
// there once the ctx is built.
func TestHandlerCtxWakeOnCancel(t *testing.T) {
	ns := &notifySocket{fakeSocket: fakeSocket{end: make(chan struct{})}}
	h := newTestHandlerCtx(ns, time.Minute, true, nil, true)
	ch := make(chan struct{}, 1)
	require.True(t, h.WakeOnCancel(ch))
	assert.False(t, h.WakeOnCancel(make(chan struct{}, 1)), "one waiter at a time")
	ns.mu.Lock()
	assert.NotNil(t, ns.f, "the watch is armed")
	ns.mu.Unlock()
	assert.False(t, h.built.Load())
	ns.fire(io.EOF)
	require.Len(t, ch, 1, "the waiter got its token")
	h.StopWake(ch)
	assert.ErrorIs(t, h.Err(), context.Canceled)
	assert.False(t, h.built.Load(), "still not built")
	assert.ErrorIs(t, context.Cause(h), ErrCallerGone)
	assert.False(t, h.WakeOnCancel(ch), "cancelled already")
	h.end()

	h = newTestHandlerCtx(&notifySocket{fakeSocket: fakeSocket{end: make(chan struct{})}}, 0, false, nil, false)
	ch = make(chan struct{}, 1)
	require.True(t, h.WakeOnCancel(ch))
	h.StopWake(ch)
	h.abandon()
	assert.Empty(t, ch, "no token once StopWake returned")
	require.True(t, h.Err() != nil)

	h = newTestHandlerCtx(&notifySocket{fakeSocket: fakeSocket{end: make(chan struct{})}}, 0, false, nil, false)
	_ = h.Done() // built: the waiter is woken all the same
	require.True(t, h.WakeOnCancel(ch))
	h.abandon()
	require.Len(t, ch, 1)
	assert.ErrorIs(t, context.Cause(h), ErrCallAbandoned)
	h.end()
	assert.False(t, h.WakeOnCancel(make(chan struct{}, 1)), "ended")
}

func TestHandlerCtxCallerGone(t *testing.T) {
	ns := &notifySocket{fakeSocket: fakeSocket{end: make(chan struct{})}}
	h := newTestHandlerCtx(ns, 0, false, nil, true)
	done := h.Done() // arms the watch
	ns.fire(io.EOF)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the caller left; the handler ctx is not cancelled")
	}
	assert.True(t, errors.Is(context.Cause(h), ErrCallerGone), "cause %v", context.Cause(h))
	h.end()
}

func TestHandlerCtxEndStopsTheWatch(t *testing.T) {
	ns := &notifySocket{fakeSocket: fakeSocket{end: make(chan struct{})}}
	h := newTestHandlerCtx(ns, 0, false, nil, true)
	_ = h.Done() // arms
	ns.mu.Lock()
	assert.NotNil(t, ns.f, "building the ctx armed the watch")
	ns.mu.Unlock()
	h.end()
	ns.mu.Lock()
	assert.Nil(t, ns.f, "StopNotify was called")
	ns.mu.Unlock()
	assert.ErrorIs(t, context.Cause(h), context.Canceled, "ended, not gone")
}

func TestHandlerCtxAbandon(t *testing.T) {
	h := newTestHandlerCtx(&notifySocket{fakeSocket: fakeSocket{end: make(chan struct{})}}, 0, false, nil, true)
	h.abandon()
	assert.ErrorIs(t, h.Err(), context.Canceled, "abandoned before it was built")
	assert.ErrorIs(t, context.Cause(h), ErrCallAbandoned)
	h.end()

	h = newTestHandlerCtx(&notifySocket{fakeSocket: fakeSocket{end: make(chan struct{})}}, 0, false, nil, true)
	done := h.Done()
	c := &call{}
	c.setHandler(h)
	c.abandon()
	select {
	case <-done:
	default:
		t.Fatal("abandon did not cancel a built ctx")
	}
	assert.ErrorIs(t, context.Cause(h), ErrCallAbandoned)
	h.end()
	h.end() // idempotent

	c = &call{}
	c.abandon()
	h = newTestHandlerCtx(&notifySocket{fakeSocket: fakeSocket{end: make(chan struct{})}}, 0, false, nil, false)
	c.setHandler(h)
	assert.ErrorIs(t, h.Err(), context.Canceled, "a call abandoned before its handler ctx existed")
	assert.ErrorIs(t, context.Cause(h), ErrCallAbandoned)
}
