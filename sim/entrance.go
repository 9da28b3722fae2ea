package sim

import (
	"context"
	"encoding/json"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/sim/scenario"
)

// An Entrance is a way into a running world from outside it: the world's
// registry, and a client on a host of its own whose calls reach the
// world's services through the world's selector, transport and faults.
// A call to a synthetic service takes any request and answers {} (its
// handlers speak the simulator's own protocol; the entrance translates).
// simctl serve puts the API gateway in front of it, so that a person can
// call into a simulated system, in real time, while its fault timeline
// plays.
type Entrance struct {
	Registry registry.Registry
	Client   client.Client
}

// entranceHost is the host of the entrance's client.
const entranceHost = "entrance"

// WithEntrance calls open once the world is up, before the workloads
// start, with a way into it; the func open returns is called when the run
// ends, before the world stops. Useful with RealTime.
func WithEntrance(open func(Entrance) (closeFn func(), err error)) RunOption {
	return func(c *runConfig) { c.entrance = open }
}

// RealTime is a Runner that runs in real time, outside any bubble: a
// scenario of a minute takes a minute.
func RealTime() Runner { return func(f func()) { f() } }

// openEntrance builds the entrance's client and calls open.
func (w *world) openEntrance(open func(Entrance) (func(), error)) (func(), error) {
	host := w.net.Host(entranceHost)
	sc, err := w.buildClient(entranceHost, &scenario.Client{}, "", "entrance", host.Transport(), client.DefaultContentType)
	if err != nil {
		return nil, err
	}
	closeFn, err := open(Entrance{Registry: w.registry(entranceHost, host), Client: &entranceClient{w: w, cli: sc.cli}})
	if err != nil {
		_ = sc.cli.Close()
		_ = sc.sel.Close()
		return nil, err
	}
	return func() {
		if closeFn != nil {
			closeFn()
		}
		_ = sc.cli.Close()
		_ = sc.sel.Close()
	}, nil
}

// entranceClient is the entrance's client: the world's, speaking the
// synthetic services' protocol when it calls one.
type entranceClient struct {
	w   *world
	cli client.Client
}

// Call implements client.Client.
func (e *entranceClient) Call(ctx context.Context, service, endpoint string, req, rsp any, opts ...client.CallOption) error {
	if !e.w.synthetic(service) {
		return e.cli.Call(ctx, service, endpoint, req, rsp, opts...)
	}
	if err := callSynthetic(ctx, e.cli, service, endpoint, mix64(uint64(len(endpoint))^e.w.seed), opts); err != nil {
		return err
	}
	switch r := rsp.(type) {
	case *json.RawMessage:
		*r = json.RawMessage("{}")
	case *any:
		*r = map[string]any{}
	}
	return nil
}

// Stream implements client.Client.
func (e *entranceClient) Stream(ctx context.Context, service, endpoint string, opts ...client.CallOption) (client.Stream, error) {
	return e.cli.Stream(ctx, service, endpoint, opts...)
}

// Publish implements client.Client.
func (e *entranceClient) Publish(ctx context.Context, topic string, msg any, opts ...client.PublishOption) error {
	return e.cli.Publish(ctx, topic, msg, opts...)
}

// Close implements client.Client: the world closes the entrance's client.
func (e *entranceClient) Close() error { return nil }
