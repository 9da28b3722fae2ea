package simtest

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/microsim/microsim/faults"
	"github.com/microsim/microsim/memory"
)

// TB is what a Cluster needs of its test; *testing.T and *testing.B
// satisfy it, and so does Recorder. Fatalf must not return (testing.T
// ends the test's goroutine).
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Failed() bool
	Cleanup(fn func())
}

// Sentinel errors.
var (
	// ErrNoSeam: a fault targets a node that lacks the seam the fault acts
	// through (an RPC fault at the server edge of a node that serves
	// nothing, a node fault on a client host).
	ErrNoSeam = errors.New("simtest: fault seam not installed")
	// ErrUnknown: a service, instance or client of that name is not part
	// of the cluster.
	ErrUnknown = errors.New("simtest: unknown name")
	// ErrExists: the name is taken by a service, instance or client.
	ErrExists = errors.New("simtest: name already in use")
)

// Cluster is a world of services for one test: a memory.Network, a
// faults.Injector whose seams every node goes through, the services'
// instances, the clients, and the counters of every call. Methods that
// set something up (Service, Client, Inject, Crash, ...) fail the test
// with Fatalf when they cannot; Call and Publish return their error.
// It is safe for concurrent use.
type Cluster struct {
	tb   TB
	cfg  config
	net  *memory.Network
	inj  *faults.Injector
	ctx  context.Context
	stop context.CancelFunc
	st   *stats

	making sync.Mutex // serialises Client's creations

	mu       sync.Mutex
	closed   bool
	services map[string]*service // by service name
	order    []*service
	nodes    map[string]*node // by node name: instances and client hosts
	clients  map[string]*Client
	noEffect map[string]bool // faults allowed to act on nothing
}

// config is what the Options set.
type config struct {
	seed     uint64
	defaults []Setting
}

// Option configures a Cluster.
type Option func(*config)

// Seed sets the seed of every random source of the cluster: the
// injector's faults, the clients' backoff jitter, the selectors. The
// default is 1; a seed reproduces a run's decisions.
func Seed(seed uint64) Option { return func(c *config) { c.seed = seed } }

// Defaults applies settings to every service and client of the cluster,
// before their own settings.
func Defaults(s ...Setting) Option {
	return func(c *config) { c.defaults = append(c.defaults, s...) }
}

// Run runs fn with a new Cluster inside a testing/synctest bubble: time in
// fn is virtual, so a test of minutes of traffic takes milliseconds. The
// cluster is torn down, and its faults are checked, when fn returns.
func Run(t *testing.T, fn func(t *testing.T, c *Cluster), opts ...Option) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		fn(t, New(t, opts...))
	})
}

// New returns an empty Cluster that tears itself down through tb.Cleanup:
// it checks that every fault acted (see Inject; not when the test failed
// already, whose failure says more), closes the clients and the injector,
// stops the servers and closes the network, waiting for their goroutines. Call it inside the synctest bubble that uses the cluster (Run
// does); outside one the cluster runs in real time.
func New(tb TB, opts ...Option) *Cluster {
	tb.Helper()
	cfg := config{seed: 1}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	net, err := memory.NewNetwork()
	if err != nil {
		tb.Fatalf("simtest: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	c := &Cluster{
		tb: tb, cfg: cfg, net: net, inj: faults.New(cfg.seed), ctx: ctx, stop: stop, st: newStats(),
		services: map[string]*service{}, nodes: map[string]*node{}, clients: map[string]*Client{},
		noEffect: map[string]bool{},
	}
	// Cleanups run last-in first-out: the fault check sees the cluster
	// before it is torn down.
	tb.Cleanup(c.close)
	tb.Cleanup(c.checkFaults)
	return c
}

// Context is a context that ends when the cluster is torn down.
func (c *Cluster) Context() context.Context { return c.ctx }

// Network is the cluster's memory network (hosts named after the
// instances and clients).
func (c *Cluster) Network() *memory.Network { return c.net }

// Injector is the cluster's fault injector. Faults added to it directly
// are checked at the end like those of Inject, but their seams are not.
func (c *Cluster) Injector() *faults.Injector { return c.inj }

// fatalf fails the test: a setup step that cannot go on.
func (c *Cluster) fatalf(format string, args ...any) {
	c.tb.Helper()
	c.tb.Fatalf(format, args...)
}

// rng returns a random source derived from the cluster's seed and key.
func (c *Cluster) rng(key string) *rand.Rand {
	return rand.New(rand.NewPCG(c.cfg.seed, streamKey(key)))
}

// streamKey hashes key (FNV-1a) into a PCG stream.
func streamKey(key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return h.Sum64()
}

// addNode records a node and tells the injector about it.
func (c *Cluster) addNode(n *node) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("simtest: cluster torn down")
	}
	if _, ok := c.nodes[n.name]; ok {
		return fmt.Errorf("%w: node %q", ErrExists, n.name)
	}
	if err := c.inj.AddNode(n.name, n.info); err != nil {
		return fmt.Errorf("simtest: node %q: %w", n.name, err)
	}
	c.nodes[n.name] = n
	return nil
}

// close tears the cluster down: the clients first, then the injector (its
// faults end), then the instances (a paused host is resumed, so that its
// server can stop; a crashed one has nothing left to stop), then the
// network. Idempotent.
func (c *Cluster) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	clients := make([]*Client, 0, len(c.clients))
	for _, cl := range c.clients {
		clients = append(clients, cl)
	}
	var instances []*instance
	for _, svc := range c.order {
		instances = append(instances, svc.instances...)
	}
	c.mu.Unlock()
	c.stop()
	for _, cl := range clients {
		cl.close()
	}
	// Faults end first, so that the servers stop as they would without
	// them (a registry fault would fail their deregistration).
	_ = c.inj.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, in := range instances {
		in.host.Resume()
		if err := in.ctl.Close(ctx); err != nil && !errors.Is(err, context.Canceled) {
			c.tb.Errorf("simtest: stop %s: %v", in.name, err)
		}
	}
	_ = c.net.Close()
}
