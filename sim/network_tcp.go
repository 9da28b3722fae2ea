package sim

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/tcp"
	"github.com/microsim/microsim/sim/scenario"
)

// The TCP backend runs a scenario in real time over the real TCP
// transport (framework/transport/tcp) on 127.0.0.1, so that a user can
// check that the simulation and the real stack agree. Each instance is a
// framework server with a TCP transport of its own, listening on a port
// of 127.0.0.1 picked at the first start and reused at restarts, built
// and registered by the same code as in virtual time (instance.newServer:
// synthetic endpoints and streams, subscribers, Go implementations); each
// client, and each instance whose endpoints or Go handlers make calls,
// dials with a TCP transport of its own. The registry and the broker are
// the in-memory ones (memory.Network's, per host, so that a crashed host
// stops heartbeating and leaves a ghost entry, and loses the events
// queued to it). Handlers, selectors, clients, workloads, metrics and
// assertions are the same code as in virtual time.
//
// Faults in this mode:
//
//	crash            the host's registry client goes down (its entry stays
//	                 until its TTL: a ghost), its TCP transport is closed
//	                 (every connection reset, the listener closed) and its
//	                 server stopped; at the end a new server listens on the
//	                 same port
//	stop             graceful server stop (deregister, drain); the
//	                 transport is closed at the restart, on the same port
//	slow, errors     in the handlers, as in virtual time
//	partition,       faults.LinkFault through faults.Injector.WrapTransport
//	link_latency,    on every client's transport (the dialling side, which
//	loss             judges both directions)
//	registry_outage  faults.RegistryFault{Unavailable} through
//	                 faults.Injector.WrapRegistry on every host
//	pause            refused: freezing a process that owns real sockets is
//	                 not modelled
//
// Link faults and registry outages are set up by the world, the same way
// as in virtual time (faults_map.go); CheckTCP lists what this backend
// refuses on top of what the validator refuses.

// WithTCP runs the scenario in real time over TCP on 127.0.0.1, outside
// any bubble: RunWith(RealTime(), sc, WithTCP()). It blocks for the
// scenario's duration in real time; a scenario the TCP backend cannot run
// gives an ErrorList naming every reason (see CheckTCP).
func WithTCP() RunOption {
	return func(c *runConfig) { c.backend = func() backend { return newTCPBackend() } }
}

// TCPFaultKinds lists the fault kinds the TCP backend runs.
func TCPFaultKinds() []string {
	return []string{"crash", "stop", "slow", "errors", "partition", "link_latency", "loss", "registry_outage"}
}

// CheckTCP returns nil when the TCP backend can run sc, else an ErrorList
// with one error per fault it cannot run. It does not validate sc
// otherwise.
func CheckTCP(sc *scenario.Scenario) error {
	var list scenario.ErrorList
	for i := range sc.Faults {
		f := &sc.Faults[i]
		switch k := f.Kind(); k {
		case "pause":
			list = append(list, &scenario.Error{Path: fmt.Sprintf("faults[%d].%s", i, k),
				Msg: "not supported with --network tcp: a paused process that holds real sockets is not modelled (supported: crash, stop, slow, errors, partition, link_latency, loss, registry_outage)"})
		}
	}
	if len(list) == 0 {
		return nil
	}
	return list
}

// tcpBackend is the backend of one run over TCP.
type tcpBackend struct {
	mu      sync.Mutex
	servers map[*instance]*tcp.Transport // the current transport of each instance
	clients []*tcp.Transport
}

func newTCPBackend() *tcpBackend {
	return &tcpBackend{servers: map[*instance]*tcp.Transport{}}
}

func (b *tcpBackend) check(sc *scenario.Scenario) error { return CheckTCP(sc) }

func (b *tcpBackend) name() string { return NetworkTCP }

func (b *tcpBackend) build(ctx context.Context, sc *scenario.Scenario, seed uint64, impls map[string]ServerSetup, obs *Observation) (*world, error) {
	w, err := newWorld(sc, seed)
	if err != nil {
		return nil, err
	}
	w.impls, w.obs = impls, obs
	w.callerTransport = b.clientTransport
	err = w.startAll(ctx, func(in *instance) error { return b.start(ctx, in) },
		func(c *scenario.Client) (*simClient, error) {
			tr, err := b.clientTransport()
			if err != nil {
				return nil, err
			}
			return w.newClient(c, tr)
		})
	if err != nil {
		b.close(w)
		return nil, err
	}
	return w, nil
}

// start starts a server for in on a new TCP transport, on its previous
// port after a restart. Binding the same port right after a crash can
// fail for a moment; it is retried for up to a second.
func (b *tcpBackend) start(ctx context.Context, in *instance) error {
	in.mu.Lock()
	addr := in.addr
	in.mu.Unlock()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var srv server.Server
	var tr *tcp.Transport
	var err error
	for attempt := 0; ; attempt++ {
		if tr, err = tcp.New(); err != nil {
			err = fmt.Errorf("instance %s: %w", in.name, err)
		} else if srv, err = in.newServer(ctx, tr, server.WithAddress(addr)); err != nil {
			_ = tr.Close()
		}
		if err == nil || attempt == 20 || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	in.mu.Lock()
	in.srv, in.addr, in.down = srv, srv.Addr(), false
	in.mu.Unlock()
	b.mu.Lock()
	b.servers[in] = tr
	b.mu.Unlock()
	return nil
}

// clientTransport is a new TCP transport for a client or for the calls
// of an instance; close closes it.
func (b *tcpBackend) clientTransport() (transport.Transport, error) {
	tr, err := tcp.New()
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.clients = append(b.clients, tr)
	b.mu.Unlock()
	return tr, nil
}

// takeServer removes and returns the instance's current transport.
func (b *tcpBackend) takeServer(in *instance) *tcp.Transport {
	b.mu.Lock()
	defer b.mu.Unlock()
	tr := b.servers[in]
	delete(b.servers, in)
	return tr
}

// crash: the host's registry client fails from now on (its entry stays
// until its TTL: a ghost); closing its transport resets every connection
// and closes its listener; the server's goroutines are then stopped.
func (b *tcpBackend) crash(in *instance) {
	in.mu.Lock()
	srv := in.srv
	in.down = true
	in.mu.Unlock()
	in.host.Crash()
	if tr := b.takeServer(in); tr != nil {
		_ = tr.Close()
	}
	if srv != nil {
		_ = srv.Stop(doneContext())
	}
}

// stop stops the server gracefully (deregister, drain for at most
// drain). Its transport stays open until the restart, so that the
// connections it served close gracefully (GOAWAY, queued replies
// written), as a process that exits after draining lets them.
func (b *tcpBackend) stop(in *instance, drain time.Duration) {
	in.stop(drain)
}

// restart brings a crashed or stopped instance back on its port.
func (b *tcpBackend) restart(ctx context.Context, w *world, in *instance) error {
	in.mu.Lock()
	old := in.srv
	in.srv = nil
	in.mu.Unlock()
	if old != nil {
		_ = old.Stop(doneContext())
	}
	if tr := b.takeServer(in); tr != nil {
		_ = tr.Close()
	}
	in.host.Restart()
	return b.start(ctx, in)
}

// close stops the clients and the instances, then closes every TCP
// transport, the injector and the in-memory network.
func (b *tcpBackend) close(w *world) {
	w.stopAll()
	b.mu.Lock()
	trs := append([]*tcp.Transport(nil), b.clients...)
	for _, tr := range b.servers {
		trs = append(trs, tr)
	}
	b.servers, b.clients = map[*instance]*tcp.Transport{}, nil
	b.mu.Unlock()
	for _, tr := range trs {
		_ = tr.Close()
	}
	w.closeNetwork()
}
