package memory

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/transport"
)

// DefaultHost is the host behind Network.Transport, Network.Registry and Network.Broker.
const DefaultHost = "local"

// Option configures a Network.
type Option func(*config) error

type config struct {
	maxMessageSize int
	streamBuffer   int
	acceptBacklog  int
}

// WithMaxMessageSize sets the largest Message the transport carries
// (default transport.DefaultMaxMessageSize).
func WithMaxMessageSize(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("memory: max message size must be positive, got %d", n)
		}
		c.maxMessageSize = n
		return nil
	}
}

// WithStreamBuffer sets how many messages each direction of a stream holds
// before Send blocks (default 64).
func WithStreamBuffer(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("memory: stream buffer must be positive, got %d", n)
		}
		c.streamBuffer = n
		return nil
	}
}

// WithAcceptBacklog sets how many opened streams wait for Accept before
// NewStream blocks (default 1024).
func WithAcceptBacklog(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("memory: accept backlog must be positive, got %d", n)
		}
		c.acceptBacklog = n
		return nil
	}
}

// Network is an isolated in-process network. It is safe for concurrent use.
type Network struct {
	cfg config

	mu     sync.Mutex
	hosts  map[string]*Host
	closed bool

	tr  *transportState
	reg *registryState
	brk *brokerState

	// held counts the hosts that are down, and those paused: while it is
	// 0 every host runs, and the checks on a call's path (is the host
	// paused? down?) need not read the host. In a world of many hosts the
	// host of a call's server is out of the CPU's cache.
	held atomic.Int64
}

// allRun reports whether every host of n is up and not paused. When it
// is false, a caller checks the host it is about.
func (n *Network) allRun() bool { return n.held.Load() == 0 }

// NewNetwork returns an empty network.
func NewNetwork(opts ...Option) (*Network, error) {
	cfg := config{
		maxMessageSize: transport.DefaultMaxMessageSize,
		streamBuffer:   64,
		acceptBacklog:  1024,
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	n := &Network{cfg: cfg, hosts: make(map[string]*Host)}
	n.tr = newTransportState(n)
	n.reg = newRegistryState(n)
	n.brk = newBrokerState(n)
	return n, nil
}

// MustNetwork is NewNetwork for options known to be valid; it panics on an
// invalid option (a programming error).
func MustNetwork(opts ...Option) *Network {
	n, err := NewNetwork(opts...)
	if err != nil {
		panic(err)
	}
	return n
}

// Host returns the host called name, creating it on first use. A name may
// not be empty or contain ':'; an invalid name panics (a programming error).
func (n *Network) Host(name string) *Host {
	if name == "" {
		panic("memory: empty host name")
	}
	for _, r := range name {
		if r == ':' {
			panic(fmt.Sprintf("memory: host name %q contains ':'", name))
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	h, ok := n.hosts[name]
	if !ok {
		// A host starts down, counted as held, and comes up unless the
		// network is closed: one created after Close is born down, like
		// the rest of the network.
		h = &Host{net: n, name: name, pause: pauseState{held: &n.held}}
		n.held.Add(1)
		h.setUp(!n.closed)
		h.tr = newPauseTransport(h, newHostTransport(h))
		h.reg = newRegistryViews(h)
		n.hosts[name] = h
	}
	return h
}

// Hosts returns the names of every host created so far.
func (n *Network) Hosts() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.hosts))
	for name := range n.hosts {
		out = append(out, name)
	}
	return out
}

// Transport is the DefaultHost's transport.
func (n *Network) Transport() transport.Transport { return n.Host(DefaultHost).Transport() }

// Registry is the DefaultHost's registry view; all hosts share one registry.
func (n *Network) Registry() registry.Registry { return n.Host(DefaultHost).Registry() }

// Broker returns a new broker client on the DefaultHost.
func (n *Network) Broker() broker.Broker { return n.Host(DefaultHost).Broker() }

// Close crashes every host: listeners close, connections reset,
// subscriptions close and wait for their handlers. Idempotent.
func (n *Network) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	hosts := make([]*Host, 0, len(n.hosts))
	for _, h := range n.hosts {
		hosts = append(hosts, h)
	}
	n.mu.Unlock()
	for _, h := range hosts {
		h.Crash()
	}
	n.reg.close()
	return nil
}

// Host is one machine of a Network.
type Host struct {
	net  *Network
	name string
	tr   transport.Transport
	reg  registry.Registry

	up    atomic.Bool // read on every accept: no lock
	pause pauseState  // host_pause.go

	// stands is the first of the standings the host asked for, in the
	// order they were made (registry_stand.go); guarded by the
	// registry's mu.
	stands *regStand
}

// Name is the host's name, the part of its addresses before the colon.
func (h *Host) Name() string { return h.name }

// Network is the network the host belongs to.
func (h *Host) Network() *Network { return h.net }

// Transport is the host's transport: listeners bind to this host's
// addresses and connections originate from it.
func (h *Host) Transport() transport.Transport { return h.tr }

// Registry is the host's view of the network's registry; it fails with
// registry.ErrUnavailable while the host is down.
func (h *Host) Registry() registry.Registry { return h.reg }

// Broker returns a new broker client on this host. Closing it closes the
// subscriptions made through it.
func (h *Host) Broker() broker.Broker { return newPauseBroker(h, newHostBroker(h)) }

// Up reports whether the host is running.
func (h *Host) Up() bool { return h.up.Load() }

// Crash stops the host abruptly: its listeners close (their addresses are
// freed), every connection to or from it is reset, its subscriptions close,
// and its transport, registry and broker calls fail until Restart. Its
// registry entries stay until their TTL passes. It ends a pause
// (host_pause.go). Idempotent.
func (h *Host) Crash() {
	if !h.setUp(false) {
		return
	}
	h.net.tr.crashHost(h.name)
	h.net.brk.crashHost(h.name)
	h.pause.end() // a crashed process is no longer paused
	// Its heartbeats' renewals now fail. Last: what the crash does to
	// its connections and subscriptions comes first, as before holds.
	h.net.reg.breakHost(h)
}

// Restart brings a crashed host back up with nothing running on it.
func (h *Host) Restart() { h.setUp(true) }

// setUp brings the host up or down, and reports whether it was not so
// already; the network's count of held hosts follows.
func (h *Host) setUp(up bool) bool {
	if h.up.Swap(up) == up {
		return false
	}
	if up {
		h.net.held.Add(-1)
	} else {
		h.net.held.Add(1)
	}
	return true
}

// errHostDown wraps sentinel with the host's name.
func (h *Host) errDown(sentinel error) error {
	return fmt.Errorf("%w: host %q is down", sentinel, h.name)
}
