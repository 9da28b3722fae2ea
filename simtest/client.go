package simtest

import (
	"context"
	"errors"
	"fmt"

	"github.com/microsim/microsim/faults"
	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/transport"
)

// DefaultClient is the name, and host, of the client that Cluster.Call and
// Cluster.Publish use.
const DefaultClient = "client"

// Client is a calling host of the cluster: the framework's selector and
// client over the host's registry, transport and broker, all through the
// cluster's injector, and with the cluster's call counters. It is safe for
// concurrent use.
type Client struct {
	name string
	cli  client.Client
	sel  selector.Selector
	brk  broker.Broker
}

// Client returns the client called name, creating it on host name (node
// ID name) with set on first use; later calls return it, and fail the test
// if given settings (they would not apply). It fails the test when the
// client cannot be built or name is taken by an instance.
func (c *Cluster) Client(name string, set ...Setting) *Client {
	c.tb.Helper()
	cl, err := c.client(name, set)
	if err != nil {
		c.fatalf("%v", err)
	}
	return cl
}

func (c *Cluster) client(name string, set []Setting) (*Client, error) {
	if name == "" {
		return nil, errors.New("simtest: Client: empty name")
	}
	if err := checkName("Client", name); err != nil {
		return nil, err
	}
	c.making.Lock() // one creation at a time: concurrent first Calls share one client
	defer c.making.Unlock()
	c.mu.Lock()
	cl, ok := c.clients[name]
	c.mu.Unlock()
	if ok && len(set) > 0 {
		return nil, fmt.Errorf("%w: Client(%q) with settings: the client exists, and settings apply only when it is made", ErrExists, name)
	}
	if ok {
		return cl, nil
	}
	s := resolveSettings(c.cfg.defaults, set)
	nd := &node{name: name, seams: seams{client: true}, info: faults.NodeInfo{Zone: s.zone(0), Labels: s.labels}}
	if err := c.addNode(nd); err != nil {
		return nil, err
	}
	host := c.net.Host(name)
	cl = &Client{name: name, brk: c.inj.WrapBroker(name, host.Broker())}
	var err error
	cl.sel, cl.cli, err = c.newClient(name, c.inj.WrapRegistry(name, host.Registry()),
		c.inj.WrapTransport(name, host.Transport(), nil), cl.brk, &s)
	if err != nil {
		cl.close()
		return nil, fmt.Errorf("simtest: client %q: %w", name, err)
	}
	c.mu.Lock()
	c.clients[name] = cl
	c.mu.Unlock()
	return cl, nil
}

// newClient builds the selector and client of node: seeded from the
// cluster's seed, publishing through brk, with the cluster's counters and
// the client edge of the faults outermost, then set's options.
func (c *Cluster) newClient(node string, reg registry.Registry, tr transport.Transport, brk broker.Broker, set *settings) (selector.Selector, client.Client, error) {
	sopts := append([]selector.Option{selector.WithRand(c.rng("selector/" + node))}, set.selector...)
	sel, err := selector.New(reg, sopts...)
	if err != nil {
		return nil, nil, err
	}
	copts := append([]client.Option{
		client.WithRand(c.rng("client/" + node)),
		client.WithBroker(brk),
		client.WithCallWrapper(c.st.callWrapper),
		client.WithAttemptWrapper(c.st.attemptWrapper, c.inj.ClientWrapper(node)),
	}, set.client...)
	cli, err := client.New(sel, tr, copts...)
	if err != nil {
		_ = sel.Close()
		return nil, nil, err
	}
	return sel, cli, nil
}

// Name is the client's name, its host and node.
func (cl *Client) Name() string { return cl.name }

// Raw is the framework client, for what Client does not wrap (streams).
func (cl *Client) Raw() client.Client { return cl.cli }

// Call calls service's endpoint (see client.Client.Call). It blocks until
// the reply, a final error, or the deadline.
func (cl *Client) Call(ctx context.Context, service, endpoint string, req, rsp any, opts ...client.CallOption) error {
	return cl.cli.Call(ctx, service, endpoint, req, rsp, opts...)
}

// Publish publishes msg on topic (see client.Client.Publish). It blocks
// until the broker accepted the message.
func (cl *Client) Publish(ctx context.Context, topic string, msg any) error {
	return cl.cli.Publish(ctx, topic, msg)
}

// Stats are the framework client's own counters (see client.Stats).
func (cl *Client) Stats() client.Stats {
	if sr, ok := cl.cli.(client.StatsReporter); ok {
		return sr.Stats()
	}
	return client.Stats{}
}

// close closes the client, its selector and its broker client.
func (cl *Client) close() {
	if cl.cli != nil {
		_ = cl.cli.Close()
	}
	if cl.sel != nil {
		_ = cl.sel.Close()
	}
	_ = cl.brk.Close()
}

// Call calls service's endpoint through the DefaultClient (see Client.Call).
func (c *Cluster) Call(ctx context.Context, service, endpoint string, req, rsp any, opts ...client.CallOption) error {
	cl, err := c.client(DefaultClient, nil)
	if err != nil {
		return err
	}
	return cl.Call(ctx, service, endpoint, req, rsp, opts...)
}

// Publish publishes msg on topic through the DefaultClient (see
// Client.Publish).
func (c *Cluster) Publish(ctx context.Context, topic string, msg any) error {
	cl, err := c.client(DefaultClient, nil)
	if err != nil {
		return err
	}
	return cl.Publish(ctx, topic, msg)
}
