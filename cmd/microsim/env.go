package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/broker/nats"
	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/registry/consul"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/tcp"
	"github.com/microsim/microsim/memory"
)

// env is a connection to a system: its registry, its transport and, on
// demand, its broker. Close releases what it opened.
type env struct {
	reg       registry.Registry
	tr        transport.Transport
	newBroker func(ctx context.Context) (broker.Broker, error)

	mu      sync.Mutex
	closers []func() error
}

// onClose registers f to run at Close, in reverse order.
func (e *env) onClose(f func() error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closers = append(e.closers, f)
}

// Close closes what the env opened. Idempotent.
func (e *env) Close() error {
	e.mu.Lock()
	cs := e.closers
	e.closers = nil
	e.mu.Unlock()
	var errs []error
	for i := len(cs) - 1; i >= 0; i-- {
		errs = append(errs, cs[i]())
	}
	return errors.Join(errs...)
}

// broker connects the broker (once per call; commands use one).
func (e *env) broker(ctx context.Context) (broker.Broker, error) {
	b, err := e.newBroker(ctx)
	if err != nil {
		return nil, err
	}
	e.onClose(b.Close)
	return b, nil
}

// client builds a client over the env's registry and transport, with b as
// its broker when not nil. A client of a command run by hand does not
// retry (a person retries by hand; a script decides itself); the
// gateway's keeps the framework's default policy (retries that are safe).
func (e *env) client(b broker.Broker, retry bool) (client.Client, error) {
	cli, _, err := e.clientSelector(b, retry)
	return cli, err
}

// clientSelector is client, with the selector the client uses.
func (e *env) clientSelector(b broker.Broker, retry bool) (client.Client, selector.Selector, error) {
	sel, err := selector.New(e.reg)
	if err != nil {
		return nil, nil, err
	}
	var opts []client.Option
	if !retry {
		opts = append(opts, client.WithRetryPolicy(client.RetryFunc(noRetry)))
	}
	if b != nil {
		opts = append(opts, client.WithBroker(b))
	}
	cli, err := client.New(sel, e.tr, opts...)
	if err != nil {
		_ = sel.Close()
		return nil, nil, err
	}
	e.onClose(sel.Close)
	e.onClose(cli.Close)
	return cli, sel, nil
}

func noRetry(context.Context, *client.Request, int, error) (wait time.Duration, retry bool) {
	return 0, false
}

// connect builds the env the flags describe. It contacts nothing: errors
// of reach come with the first request.
func connect(_ context.Context, f *globals) (*env, error) {
	e := &env{}
	var net *memory.Network
	mem := func() *memory.Network {
		if net == nil {
			net = memory.MustNetwork()
			e.onClose(net.Close)
		}
		return net
	}
	switch f.registry {
	case "memory":
		e.reg = mem().Registry()
	default:
		cfg := api.DefaultConfig()
		cfg.Address = f.consul
		r, err := consul.New(cfg, consul.WithTag(f.consulTag))
		if err != nil {
			return nil, fmt.Errorf("consul registry at %s: %w", f.consul, err)
		}
		e.onClose(r.Close)
		e.reg = r
	}
	switch f.transport {
	case "memory":
		e.tr = mem().Transport()
	default:
		tr, err := tcp.New()
		if err != nil {
			_ = e.Close()
			return nil, err
		}
		e.onClose(tr.Close)
		e.tr = tr
	}
	switch f.broker {
	case "memory":
		e.newBroker = func(context.Context) (broker.Broker, error) { return mem().Broker(), nil }
	default:
		url := f.nats
		e.newBroker = func(ctx context.Context) (broker.Broker, error) {
			b, err := nats.New(ctx, url)
			if err != nil {
				return nil, fmt.Errorf("NATS at %s: %w", url, err)
			}
			return b, nil
		}
	}
	return e, nil
}
