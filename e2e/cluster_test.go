package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/registry/consul"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/transport/tcp"
)

const (
	// ttl is the TTL of every node's registration in Consul; each server's
	// heartbeat renews it every ttl/3.
	ttl = 2 * time.Second
	// workers is how many goroutines make calls at once.
	workers = 4
	// callTimeout is each call's ctx deadline.
	callTimeout = 3 * time.Second
	// waitLimit bounds every wait of the tests on the cluster.
	waitLimit = 10 * time.Second
	// poll is how often a condition that has no event of its own is checked.
	poll = 5 * time.Millisecond
	// maxCalls bounds the calls of one load, whatever happens.
	maxCalls = 100_000
)

// EchoRequest and EchoReply are the messages of Echo.Say.
type EchoRequest struct{ Seq int64 }

type EchoReply struct {
	Seq      int64
	Instance string
}

// Echo is the handler of one instance. It counts the calls it serves and
// can hold calls in the handler, so that a test knows for sure that they
// are in flight.
type Echo struct {
	name   string
	served atomic.Int64 // handler runs, held ones included

	mu      sync.Mutex
	hold    int           // how many of the next calls to hold
	held    chan int64    // receives the Seq of each call as it is held
	release chan struct{} // closed to let the held calls reply
}

// Say replies with the request's Seq and the instance's name.
func (e *Echo) Say(ctx context.Context, req *EchoRequest, rsp *EchoReply) error {
	e.served.Add(1)
	e.mu.Lock()
	hold := e.hold > 0
	if hold {
		e.hold--
	}
	held, release := e.held, e.release
	e.mu.Unlock()
	if hold {
		held <- req.Seq
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	rsp.Seq, rsp.Instance = req.Seq, e.name
	return nil
}

// holdNext makes the next n calls wait in the handler until release is
// called; held yields each one's Seq when it starts waiting. release is
// idempotent.
func (e *Echo) holdNext(n int) (held <-chan int64, release func()) {
	ch, rel := make(chan int64, n), make(chan struct{})
	e.mu.Lock()
	e.hold, e.held, e.release = n, ch, rel
	e.mu.Unlock()
	var once sync.Once
	return ch, func() { once.Do(func() { close(rel) }) }
}

// errHostDown is what a crashed instance's registry calls return.
var errHostDown = fmt.Errorf("e2e: host crashed: %w", registry.ErrUnavailable)

// hostRegistry is an instance's own Consul client. Once down (the instance
// crashed) it makes no more calls: the dead process neither renews nor
// deregisters its node, which stays in Consul until its TTL passes.
type hostRegistry struct {
	registry.Registry
	down atomic.Bool
}

func (r *hostRegistry) Register(ctx context.Context, s *registry.Service, opts ...registry.RegisterOption) error {
	if r.down.Load() {
		return errHostDown
	}
	return r.Registry.Register(ctx, s, opts...)
}

func (r *hostRegistry) Deregister(ctx context.Context, s *registry.Service) error {
	if r.down.Load() {
		return errHostDown
	}
	return r.Registry.Deregister(ctx, s)
}

// instance is one server process: a server on a TCP transport and a Consul
// client of its own.
type instance struct {
	name string
	echo *Echo
	tr   *tcp.Transport
	reg  *hostRegistry
	srv  server.Server
}

// crash kills the instance as a crashed process dies: its registry client
// goes silent (no heartbeat, no deregistration) and its transport closes
// every listener and connection at once, in-flight streams included. It
// blocks until the transport's goroutines have exited.
func (in *instance) crash(t *testing.T) {
	in.reg.down.Store(true)
	_ = in.tr.Close()
	holdPort(t, in.srv.Addr())
}

func startInstance(t *testing.T, ctx context.Context, consulAddr, service, name string) *instance {
	t.Helper()
	in := &instance{name: name, echo: &Echo{name: name}, reg: &hostRegistry{Registry: newConsul(t, consulAddr)}}
	var err error
	in.tr, err = tcp.New()
	require.NoError(t, err)
	t.Cleanup(func() { _ = in.tr.Close() })
	in.srv, err = server.New(service, in.tr, in.reg,
		server.WithAddress("127.0.0.1:0"),
		server.WithID(name),
		server.WithRegisterTTL(ttl))
	require.NoError(t, err)
	require.NoError(t, in.srv.Handle(in.echo))
	require.NoError(t, in.srv.Start(ctx))
	t.Cleanup(func() {
		in.reg.down.Store(false) // a crashed instance is cleaned up as if restarted
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		require.NoError(t, in.srv.Stop(ctx))
	})
	return in
}

func newConsul(t *testing.T, addr string) *consul.Registry {
	t.Helper()
	r, err := consul.New(&api.Config{Address: addr})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// lagRegistry is the client's Consul client. It can hold back the watch
// event that deletes one node, as a client far from the registry (or behind
// a slow watch or cache) learns late that a node left: its selector keeps
// offering the node meanwhile.
type lagRegistry struct {
	registry.Registry

	mu      sync.Mutex
	service string        // with node: the deletion held back
	node    string        //
	gate    chan struct{} // closed to let it through
}

// holdDelete holds back the deletion of node until release is called.
// release is idempotent.
func (r *lagRegistry) holdDelete(service, node string) (release func()) {
	gate := make(chan struct{})
	r.mu.Lock()
	r.service, r.node, r.gate = service, node, gate
	r.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(gate) }) }
}

// held returns the gate a watch event must pass, or nil.
func (r *lagRegistry) held(ev *registry.Event) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gate == nil || ev.Type != registry.Delete || ev.Service == nil || ev.Service.Name != r.service {
		return nil
	}
	for _, n := range ev.Service.Nodes {
		if n.ID == r.node {
			return r.gate
		}
	}
	return nil
}

func (r *lagRegistry) Watch(ctx context.Context, opts ...registry.WatchOption) (registry.Watcher, error) {
	w, err := r.Registry.Watch(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return &lagWatcher{Watcher: w, r: r, stopped: make(chan struct{})}, nil
}

type lagWatcher struct {
	registry.Watcher
	r       *lagRegistry
	once    sync.Once
	stopped chan struct{}
}

// Next passes the events on in order, waiting at a held deletion.
func (w *lagWatcher) Next(ctx context.Context) (*registry.Event, error) {
	ev, err := w.Watcher.Next(ctx)
	if err != nil {
		return ev, err
	}
	if gate := w.r.held(ev); gate != nil {
		select {
		case <-gate:
		case <-w.stopped:
			return nil, registry.ErrWatcherStopped
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return ev, nil
}

func (w *lagWatcher) Stop() {
	w.once.Do(func() { close(w.stopped) })
	w.Watcher.Stop()
}

// cluster is a service of a few instances in the shared Consul agent and a
// client that calls it through the default selector over a Consul client
// of its own, on its own TCP transport.
type cluster struct {
	service  string
	insts    []*instance
	reg      *lagRegistry // the client's
	sel      selector.Selector
	client   client.Client
	attempts *attemptLog
}

var serviceSeq atomic.Int64

// newCluster starts n instances of a service no other test uses and a
// client, and waits until the client's selector offers every instance. It
// skips the test without consul (see consultest).
func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	addr := agent.Addr(t)
	name := strings.NewReplacer("/", "-", "_", "-").Replace(strings.ToLower(t.Name()))
	c := &cluster{service: fmt.Sprintf("e2e-%s-%d", name, serviceSeq.Add(1)), attempts: &attemptLog{}}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for i := range n {
		c.insts = append(c.insts, startInstance(t, ctx, addr, c.service, fmt.Sprintf("echo-%d", i)))
	}

	var err error
	c.reg = &lagRegistry{Registry: newConsul(t, addr)}
	c.sel, err = selector.New(c.reg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.sel.Close() })
	tr, err := tcp.New()
	require.NoError(t, err)
	t.Cleanup(func() { _ = tr.Close() })
	c.client, err = client.New(c.sel, tr, client.WithAttemptWrapper(c.attempts.wrap))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.client.Close() })

	require.Eventually(t, func() bool {
		for _, in := range c.insts {
			if ok, err := c.offers(in.srv.Addr()); err != nil || !ok {
				return false
			}
		}
		return true
	}, waitLimit, poll, "the client's selector never offered all %d instances", n)
	return c
}

// offers reports whether the client's selector would choose the node at
// addr for some attempt of a call now; an error when the selector cannot
// tell (other than having no node at all).
func (c *cluster) offers(addr string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	pick, err := c.sel.Select(ctx, c.service)
	if errors.Is(err, selector.ErrNoneAvailable) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer pick.Release()
	for {
		node, err := pick.Next()
		if errors.Is(err, selector.ErrNoneAvailable) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if node.Address == addr {
			return true, nil
		}
	}
}

// dropped reports whether the client's selector no longer offers addr.
func (c *cluster) dropped(addr string) bool {
	ok, err := c.offers(addr)
	return err == nil && !ok
}

// listed reports whether Consul lists a passing node at addr, as the
// client's registry reads it (bypassing its selector).
func (c *cluster) listed(addr string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	svcs, err := c.reg.GetService(ctx, c.service)
	if errors.Is(err, registry.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, s := range svcs {
		for _, n := range s.Nodes {
			if n.Address == addr {
				return true, nil
			}
		}
	}
	return false, nil
}

// refusesConnections reports whether nothing listens at addr any more.
func refusesConnections(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		_ = conn.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// receive waits for one value from ch, failing the test after waitLimit.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		var zero T
		t.Fatalf("no %s within %v", what, waitLimit)
		return zero
	}
}
