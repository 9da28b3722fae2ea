package memory

// Host pause: a paused host is a process frozen by SIGSTOP. Nothing goes in
// or out of it until Resume: its listeners accept nothing, its sockets
// deliver nothing to it and send nothing from it, its registry calls and
// watches wait (so its heartbeats stop and its registrations expire when
// their TTL passes), its broker clients publish nothing and its
// subscriptions deliver nothing. Peers see a host that stopped answering,
// not one that is gone: connections stay up and streams to it stay open.
//
// It is built as decorators around the host's transport, registry and
// broker, so the code of those stays as it is. Every wait is on a channel
// (closed by Resume or Crash) and honours its ctx. A message that reached a
// paused host while a caller waited for it is kept for that caller's next
// call, so a ctx that ends during a pause loses nothing; a stream that
// reached it waits, on its serving goroutine, until the resume.
//
// Goroutines keep running while a host is paused, so handlers that were
// already running finish; only their I/O waits.

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/transport"
)

// pauseState is a host's pause switch. Reading it is lock-free (every
// send, receive and stream of a host checks it); mu serialises the writers.
type pauseState struct {
	mu      sync.Mutex
	resumed atomic.Pointer[chan struct{}] // non-nil while paused; its channel is closed when the pause ends
	held    *atomic.Int64                 // the network's count of hosts held (Network.held), which a pause is one of
}

// current returns the channel closed when the pause ends, or nil when the
// host is not paused.
func (p *pauseState) current() chan struct{} {
	if ch := p.resumed.Load(); ch != nil {
		return *ch
	}
	return nil
}

// begin starts a pause unless one is on, and reports whether it did. It
// does not block.
func (p *pauseState) begin() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resumed.Load() != nil {
		return false
	}
	ch := make(chan struct{})
	p.resumed.Store(&ch)
	p.held.Add(1)
	return true
}

// end ends the pause, if any. It does not block. Idempotent.
func (p *pauseState) end() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := p.resumed.Load()
	if ch == nil {
		return false
	}
	p.resumed.Store(nil)
	close(*ch)
	p.held.Add(-1)
	return true
}

// Pause freezes the host's I/O until Resume (see the top of host_pause.go):
// deliveries to it, accepts, sends from it, registry calls and broker
// traffic wait. It does nothing to a host that is down or already paused.
// Crash ends a pause. It does not block.
func (h *Host) Pause() {
	if !h.Up() {
		return
	}
	if h.pause.begin() {
		h.net.reg.breakHost(h) // its heartbeats' renewals now wait
	}
}

// Resume ends a pause: everything that waited goes on. It does not block.
// Idempotent.
func (h *Host) Resume() { h.pause.end() }

// Paused reports whether the host is paused.
func (h *Host) Paused() bool { return h.pause.current() != nil }

// awaitRunning blocks while the host is paused, until Resume, Crash or the
// end of ctx (whose error it then returns).
func (h *Host) awaitRunning(ctx context.Context) error {
	for {
		ch := h.pause.current()
		if ch == nil {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// pausedErr wraps a ctx error that ended a wait for a paused host with the
// sentinel of the calling layer.
func (h *Host) pausedErr(sentinel, err error) error {
	return fmt.Errorf("%w: host %q is paused: %w", sentinel, h.name, err)
}

// pauseTransport is a host's transport, held while the host is paused.
type pauseTransport struct {
	h  *Host
	tr transport.Transport
}

func newPauseTransport(h *Host, tr transport.Transport) transport.Transport {
	return &pauseTransport{h: h, tr: tr}
}

// Dial waits while the host is paused, then dials.
func (t *pauseTransport) Dial(ctx context.Context, addr string) (transport.Conn, error) {
	if err := t.h.awaitRunning(ctx); err != nil {
		return nil, fmt.Errorf("memory: dial %s: %w", addr, err)
	}
	c, err := t.tr.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	return &pauseConn{Conn: c, h: t.h}, nil
}

// Listen listens; it does not wait (binding is not I/O a peer can see).
func (t *pauseTransport) Listen(addr string) (transport.Listener, error) {
	l, err := t.tr.Listen(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &pauseListener{Listener: l, h: t.h, ctx: ctx, cancel: cancel}, nil
}

// pauseConn opens streams only while the host runs.
type pauseConn struct {
	transport.Conn
	h *Host
}

// NewStream waits while the host is paused, then opens the stream (with
// its first message, in one step, as the memory transport does).
func (c *pauseConn) NewStream(ctx context.Context, first *transport.Message) (transport.Socket, error) {
	if err := c.h.awaitRunning(ctx); err != nil {
		return nil, err
	}
	s, err := c.Conn.NewStream(ctx, first)
	if s == nil {
		return nil, err
	}
	return wrapPauseSocket(s), err
}

// pauseListener hands streams to its server only while the host runs.
type pauseListener struct {
	transport.Listener
	h      *Host
	ctx    context.Context // ended by Close: a stream waiting for the resume is dropped
	cancel context.CancelFunc
}

// Serve serves the memory listener's streams; a stream that arrives while
// the host is paused waits, on its own goroutine, for the resume before
// it reaches handle. One that was waiting when the listener closed or the
// host crashed is closed: the process never saw it.
func (l *pauseListener) Serve(handle func(transport.Socket)) error {
	net := l.h.net
	return l.Listener.Serve(func(s transport.Socket) {
		if !net.allRun() {
			if err := l.h.awaitRunning(l.ctx); err != nil || !l.h.Up() {
				_ = s.Close()
				return
			}
		}
		handle(wrapPauseSocket(s))
	})
}

// Close closes the listener; streams waiting for the resume are dropped.
func (l *pauseListener) Close() error {
	l.cancel()
	return l.Listener.Close()
}

// pauseSocket sends and delivers only while the host runs. It decorates
// the host's own memory socket (the pause transport wraps nothing else),
// whose methods it calls directly; the host is the socket's.
type pauseSocket struct {
	*socket

	// held is what Recv received while paused and could not hand out
	// because its ctx ended; Recv is never concurrent with itself, so only
	// Recv touches it. A pointer: the decorator is part of every memory
	// socket, and few ever hold anything.
	held *heldRecv
}

// heldRecv is a Recv's result kept for the next Recv.
type heldRecv struct {
	m   *transport.Message
	err error
}

func (s *pauseSocket) Send(ctx context.Context, m *transport.Message) error {
	if err := s.awaitHost(ctx); err != nil {
		return err
	}
	return s.socket.Send(ctx, m)
}

// awaitHost blocks while the socket's host is paused (awaitRunning). It
// reads the host only when some host of the network is down or paused.
func (s *pauseSocket) awaitHost(ctx context.Context) error {
	if s.network().allRun() {
		return nil
	}
	return s.host().awaitRunning(ctx)
}

func (s *pauseSocket) Recv(ctx context.Context) (*transport.Message, error) {
	var m *transport.Message
	var err error
	if s.held != nil && s.isClosed() {
		// What it held was lent until the Close, which ended the lease.
		s.held = nil
	}
	if h := s.held; h != nil {
		m, err, s.held = h.m, h.err, nil
	} else if m, err = s.socket.Recv(ctx); err != nil && ctx.Err() != nil {
		return nil, err // the caller's own ctx ended: nothing was received
	}
	if s.network().allRun() {
		return m, err
	}
	h := s.host()
	if werr := h.awaitRunning(ctx); werr != nil {
		s.held = &heldRecv{m: m, err: err}
		return nil, werr
	}
	if err == nil && !h.Up() {
		// The pause ended with a crash: the process never saw the message,
		// and the stream is reset.
		return s.socket.Recv(ctx)
	}
	return m, err
}

// pauseRegistry is a host's registry view, held while the host is paused.
type pauseRegistry struct {
	h   *Host
	net *Network // h's: read while every host runs, where h is not
	reg registry.Registry
}

// registryViews is a host's registry view (host) under its pause layer
// (pause), made together in one cache line: every heartbeat of a server
// on the host goes through both, once an interval, when a world of many
// hosts has them out of the CPU's cache.
type registryViews struct {
	pause pauseRegistry
	host  hostRegistry
	_     [64 - unsafe.Sizeof(pauseRegistry{}) - unsafe.Sizeof(hostRegistry{})]byte
}

// newRegistryViews returns h's registry: its view of the network's
// registry under the pause layer.
func newRegistryViews(h *Host) registry.Registry {
	v := &registryViews{host: hostRegistry{h: h, s: h.net.reg}}
	v.pause = pauseRegistry{h: h, net: h.net, reg: &v.host}
	return &v.pause
}

func (r *pauseRegistry) await(ctx context.Context) error {
	if r.net.allRun() {
		return nil
	}
	if err := r.h.awaitRunning(ctx); err != nil {
		return r.h.pausedErr(registry.ErrUnavailable, err)
	}
	return nil
}

func (r *pauseRegistry) Register(ctx context.Context, s *registry.Service, opts ...registry.RegisterOption) error {
	if err := r.await(ctx); err != nil {
		return err
	}
	return r.reg.Register(ctx, s, opts...)
}

func (r *pauseRegistry) Deregister(ctx context.Context, s *registry.Service) error {
	if err := r.await(ctx); err != nil {
		return err
	}
	return r.reg.Deregister(ctx, s)
}

func (r *pauseRegistry) GetService(ctx context.Context, name string) ([]*registry.Service, error) {
	if err := r.await(ctx); err != nil {
		return nil, err
	}
	return r.reg.GetService(ctx, name)
}

func (r *pauseRegistry) ListServices(ctx context.Context) ([]*registry.Service, error) {
	if err := r.await(ctx); err != nil {
		return nil, err
	}
	return r.reg.ListServices(ctx)
}

func (r *pauseRegistry) Watch(ctx context.Context, opts ...registry.WatchOption) (registry.Watcher, error) {
	if err := r.await(ctx); err != nil {
		return nil, err
	}
	w, err := r.reg.Watch(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return &pauseWatcher{Watcher: w, h: r.h}, nil
}

// pauseWatcher delivers events only while the host runs. Like pauseSocket
// it keeps an event whose Next gave up during a pause.
type pauseWatcher struct {
	registry.Watcher
	h *Host

	mu   sync.Mutex
	held []*registry.Event
}

func (w *pauseWatcher) Next(ctx context.Context) (*registry.Event, error) {
	ev := w.unhold()
	if ev == nil {
		var err error
		if ev, err = w.Watcher.Next(ctx); err != nil {
			return nil, err
		}
	}
	if err := w.h.awaitRunning(ctx); err != nil {
		w.hold(ev)
		return nil, w.h.pausedErr(registry.ErrUnavailable, err)
	}
	if !w.h.Up() {
		w.hold(ev) // the underlying watcher keeps events of a down host too
		return nil, w.h.errDown(registry.ErrUnavailable)
	}
	return ev, nil
}

func (w *pauseWatcher) unhold() *registry.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.held) == 0 {
		return nil
	}
	ev := w.held[0]
	w.held = w.held[1:]
	return ev
}

func (w *pauseWatcher) hold(ev *registry.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.held = append([]*registry.Event{ev}, w.held...)
}

// pauseBroker is a broker client of a host, held while the host is paused.
type pauseBroker struct {
	broker.Broker
	h *Host
}

func newPauseBroker(h *Host, b broker.Broker) broker.Broker { return &pauseBroker{Broker: b, h: h} }

// Publish waits while the host is paused, then publishes.
func (b *pauseBroker) Publish(ctx context.Context, topic string, m *broker.Message) error {
	if err := b.h.awaitRunning(ctx); err != nil {
		return b.h.pausedErr(broker.ErrUnavailable, err)
	}
	return b.Broker.Publish(ctx, topic, m)
}

// Subscribe subscribes with a handler that waits while the host is paused:
// messages queue up in the subscription and are delivered after Resume.
func (b *pauseBroker) Subscribe(ctx context.Context, topic string, fn broker.Handler, opts ...broker.SubscribeOption) (broker.Subscription, error) {
	if fn == nil {
		return b.Broker.Subscribe(ctx, topic, fn, opts...)
	}
	h := b.h
	return b.Broker.Subscribe(ctx, topic, func(ctx context.Context, topic string, m *broker.Message) error {
		if err := h.awaitRunning(ctx); err != nil {
			return h.pausedErr(broker.ErrUnavailable, err)
		}
		if !h.Up() {
			return h.errDown(broker.ErrUnavailable) // crashed while paused
		}
		return fn(ctx, topic, m)
	}, opts...)
}
