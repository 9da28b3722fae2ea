package server

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
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
	timeout := 20 * time.Millisecond
	h := newTestHandlerCtx(&notifySocket{fakeSocket: fakeSocket{end: make(chan struct{})}}, timeout, true, nil, false)
	select {
	case <-h.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the deadline did not cancel the ctx")
	}
	assert.ErrorIs(t, h.Err(), context.DeadlineExceeded)
	child, cancel := context.WithCancel(h)
	defer cancel()
	assert.ErrorIs(t, child.Err(), context.DeadlineExceeded, "a child sees DeadlineExceeded")
	h.end()
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
	_ = h.Err() // arms
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
