package simtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/microsim/microsim/faults"
	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/memory"
)

// Constructor builds the handler of one instance from the instance's
// client (to call other services and publish events). The value it
// returns is registered with server.Handle, unless it is a Registrar.
type Constructor func(c client.Client) any

// Registrar is a handler value that registers itself on its instance's
// server instead of being passed to server.Handle: its endpoints
// (Handle, HandleFunc), its subscribers (Subscribe), or both.
type Registrar interface {
	Register(srv server.Server) error
}

// seams are the fault seams a node goes through.
type seams struct {
	server  bool // Injector.ServerWrapper in its handler chain
	client  bool // Injector.ClientWrapper in its attempt chain
	control bool // a NodeControl (crash, stop, restart, pause)
}

// node is one host of the cluster: an instance or a client.
type node struct {
	name  string
	info  faults.NodeInfo
	seams seams
}

// service is a named service and its instances.
type service struct {
	name      string
	ctor      Constructor
	set       settings
	instances []*instance // guarded by Cluster.mu
}

// instance is one instance of a service: a host, its decorated transport
// and registry, and the node control that (re)starts its process.
type instance struct {
	c    *Cluster
	svc  *service
	name string
	zone string
	host *memory.Host
	tr   transport.Transport
	reg  registry.Registry
	ctl  *faults.HostNode

	mu      sync.Mutex
	handler any // of the running process; nil while down
}

// Service starts a service of n instances: instance i runs on host
// "<name>-<i>" with node ID "<name>-<i>", each with its own client and a
// handler built by ctor from it. Every instance's transport, registry,
// broker, handler chain and attempt chain go through the cluster's
// injector, and the instance can be crashed, paused and restarted. A
// restarted instance is a new process: a new client and a new handler
// from ctor (state kept in the handler is lost, as in a real crash). It
// blocks until every instance is registered; it fails the test when the
// service cannot start.
func (c *Cluster) Service(name string, n int, ctor Constructor, set ...Setting) {
	c.tb.Helper()
	if err := c.startService(name, n, ctor, set); err != nil {
		c.fatalf("%v", err)
	}
}

func (c *Cluster) startService(name string, n int, ctor Constructor, set []Setting) error {
	switch {
	case name == "":
		return errors.New("simtest: Service: empty name")
	case n < 1:
		return fmt.Errorf("simtest: Service(%q): %d instances; want at least 1", name, n)
	case ctor == nil:
		return fmt.Errorf("simtest: Service(%q): nil constructor", name)
	}
	if err := checkName("Service", name); err != nil {
		return err
	}
	svc := &service{name: name, ctor: ctor, set: resolveSettings(c.cfg.defaults, set)}
	c.mu.Lock()
	_, dup := c.services[name]
	if !dup {
		c.services[name] = svc
		c.order = append(c.order, svc)
	}
	c.mu.Unlock()
	if dup {
		return fmt.Errorf("%w: service %q", ErrExists, name)
	}
	for i := range n {
		in, err := c.newInstance(svc, i)
		if err != nil {
			return err
		}
		c.mu.Lock()
		svc.instances = append(svc.instances, in)
		c.mu.Unlock()
		if err := in.ctl.Start(c.ctx); err != nil {
			return fmt.Errorf("simtest: start %s: %w", in.name, err)
		}
	}
	return nil
}

// checkName refuses a name that cannot be a host of the memory network,
// whose addresses are "host:port".
func checkName(what, name string) error {
	if i := strings.IndexFunc(name, func(r rune) bool { return r == ':' || unicode.IsSpace(r) || !unicode.IsPrint(r) }); i >= 0 {
		return fmt.Errorf("simtest: %s(%q): a name must not hold %q (it names hosts, and addresses are host:port)", what, name, name[i:i+1])
	}
	return nil
}

// newInstance adds instance i of svc to the cluster, not started.
func (c *Cluster) newInstance(svc *service, i int) (*instance, error) {
	name := fmt.Sprintf("%s-%d", svc.name, i)
	host := c.net.Host(name)
	in := &instance{
		c: c, svc: svc, name: name, zone: svc.set.zone(i), host: host,
		tr:  c.inj.WrapTransport(name, host.Transport(), nil),
		reg: c.inj.WrapRegistry(name, host.Registry()),
	}
	in.ctl = faults.NewHostNode(host, in.build)
	nd := &node{name: name, seams: seams{server: true, client: true, control: true},
		info: faults.NodeInfo{Service: svc.name, Zone: in.zone, Labels: svc.set.labels, Control: in.ctl}}
	if err := c.addNode(nd); err != nil {
		return nil, err
	}
	return in, nil
}

// build makes the instance's process: a broker client, a selector and a
// client, the handler from the constructor, and a server on addr ("" the
// first time) that serves it. The server it returns also closes the rest
// when it stops.
func (in *instance) build(addr string) (server.Server, error) {
	c, set := in.c, &in.svc.set
	p := &process{Server: nil, brk: c.inj.WrapBroker(in.name, in.host.Broker())}
	var err error
	p.sel, p.cli, err = c.newClient(in.name, in.reg, in.tr, p.brk, set)
	if err != nil {
		_ = p.close()
		return nil, fmt.Errorf("simtest: %s: %w", in.name, err)
	}
	h := in.svc.ctor(p.cli)
	if h == nil {
		_ = p.close()
		return nil, fmt.Errorf("simtest: %s: the constructor of service %q returned nil", in.name, in.svc.name)
	}
	opts := []server.Option{
		server.WithID(in.name),
		server.WithAddress(addr),
		server.WithBroker(p.brk),
		server.WithMetadata(set.metadata(in.zone)),
		server.WithHandlerWrapper(c.inj.ServerWrapper(in.name), c.st.servedWrapper(in.svc.name, in.name)),
		server.WithSubscriberWrapper(c.st.eventWrapper(in.svc.name, in.name)),
	}
	if set.ttl > 0 {
		opts = append(opts, server.WithRegisterTTL(set.ttl), server.WithRegisterInterval(set.ttl/3))
	}
	srv, err := server.New(in.svc.name, in.tr, in.reg, append(opts, set.server...)...)
	if err == nil {
		if r, ok := h.(Registrar); ok {
			err = r.Register(srv)
		} else {
			err = srv.Handle(h)
		}
	}
	if err != nil {
		_ = p.close()
		return nil, fmt.Errorf("simtest: %s: %w", in.name, err)
	}
	p.Server = srv
	p.in = in
	in.mu.Lock()
	in.handler = h
	in.mu.Unlock()
	return p, nil
}

// process is a running instance: its server, and the client, selector
// and broker client that Stop closes after the server.
type process struct {
	server.Server
	in  *instance
	cli client.Client
	sel selector.Selector
	brk broker.Broker
}

// Stop stops the server (see server.Server.Stop), then closes the
// process's client, selector and broker client.
func (p *process) Stop(ctx context.Context) error {
	err := p.Server.Stop(ctx)
	if p.in != nil {
		p.in.mu.Lock()
		p.in.handler = nil
		p.in.mu.Unlock()
	}
	return errors.Join(err, p.close())
}

func (p *process) close() error {
	var errs []error
	if p.cli != nil {
		errs = append(errs, p.cli.Close())
	}
	if p.sel != nil {
		errs = append(errs, p.sel.Close())
	}
	return errors.Join(append(errs, p.brk.Close())...)
}

// Handlers returns the handler values of service's running instances, in
// instance order (nil for an instance that is down), so a test can look
// at their state. It fails the test for an unknown service.
func (c *Cluster) Handlers(service string) []any {
	c.tb.Helper()
	ins, ok := c.mustInstances(service)
	if !ok {
		return nil
	}
	out := make([]any, len(ins))
	for i, in := range ins {
		in.mu.Lock()
		out[i] = in.handler
		in.mu.Unlock()
	}
	return out
}

// Instances returns the node names of service's instances, in order. It
// fails the test for an unknown service.
func (c *Cluster) Instances(service string) []string {
	c.tb.Helper()
	ins, ok := c.mustInstances(service)
	if !ok {
		return nil
	}
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.name
	}
	return out
}

// mustInstances returns service's instances, or fails the test for an
// unknown service.
func (c *Cluster) mustInstances(service string) ([]*instance, bool) {
	c.tb.Helper()
	svc := c.service(service)
	if svc == nil {
		c.fatalf("%v: service %q", ErrUnknown, service)
		return nil, false
	}
	return c.instancesOf(svc), true
}

// instancesOf returns a copy of svc's instances.
func (c *Cluster) instancesOf(svc *service) []*instance {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(svc.instances)
}

func (c *Cluster) service(name string) *service {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.services[name]
}
