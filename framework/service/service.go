package service

import (
	"context"
	"errors"
	"fmt"
	"os/signal"
	"sync"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/transport"
)

// Service is a named service: a server that serves it and a client to call
// others. It is safe for concurrent use.
type Service struct {
	name   string
	srv    server.Server
	cli    client.Client
	sel    selector.Selector
	ownSel bool // sel was made by New and is closed by Stop
	opts   options

	closeOnce sync.Once
	closeErr  error
}

// New builds the service's server (on tr, registering in reg) and client
// (over a selector on reg, unless WithSelector). It does not block and
// starts nothing. An invalid argument or option, or one the server or
// client rejects, makes it fail with an error naming it.
func New(name string, tr transport.Transport, reg registry.Registry, opts ...Option) (*Service, error) {
	if name == "" {
		return nil, errors.New("service: empty name")
	}
	if tr == nil {
		return nil, fmt.Errorf("service %q: nil transport", name)
	}
	if reg == nil {
		return nil, fmt.Errorf("service %q: nil registry", name)
	}
	o, err := newOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("service %q: %w", name, err)
	}

	log := o.log
	if log == nil {
		log = DefaultLogger()
	}
	// The logger goes first, so that a server.WithLogger among the
	// server options still wins.
	srvOpts := append([]server.Option{server.WithLogger(log)}, o.serverOpts...)
	cliOpts := o.clientOpts
	if o.broker != nil {
		srvOpts = append([]server.Option{server.WithBroker(o.broker)}, srvOpts...)
		cliOpts = append([]client.Option{client.WithBroker(o.broker)}, cliOpts...)
	}
	srv, err := server.New(name, tr, reg, srvOpts...)
	if err != nil {
		return nil, fmt.Errorf("service %q: %w", name, err)
	}
	s := &Service{name: name, srv: srv, sel: o.selector, opts: o}
	if s.sel == nil {
		if s.sel, err = selector.New(reg); err != nil {
			return nil, fmt.Errorf("service %q: %w", name, err)
		}
		s.ownSel = true
	}
	if s.cli, err = client.New(s.sel, tr, cliOpts...); err != nil {
		if s.ownSel {
			_ = s.sel.Close()
		}
		return nil, fmt.Errorf("service %q: %w", name, err)
	}
	return s, nil
}

// Name is the service's name.
func (s *Service) Name() string { return s.name }

// Server is the service's server.
func (s *Service) Server() server.Server { return s.srv }

// Client is the service's client; Stop closes it.
func (s *Service) Client() client.Client { return s.cli }

// Handle registers a handler on the server (see server.Server.Handle). It
// does not block.
func (s *Service) Handle(h any, opts ...server.HandleOption) error { return s.srv.Handle(h, opts...) }

// HandleFunc registers one function as an endpoint (see
// server.Server.HandleFunc). It does not block.
func (s *Service) HandleFunc(endpoint string, fn any) error { return s.srv.HandleFunc(endpoint, fn) }

// Subscribe registers a subscriber on the server (see
// server.Server.Subscribe); it needs WithBroker. It does not block.
func (s *Service) Subscribe(topic string, fn any, opts ...server.SubscribeOption) error {
	return s.srv.Subscribe(topic, fn, opts...)
}

// Start starts the server. It blocks for the registration and
// subscriptions, bounded by ctx.
func (s *Service) Start(ctx context.Context) error { return s.srv.Start(ctx) }

// Stop stops the server gracefully within ctx (see server.Server.Stop),
// then closes the client and the selector the Service created. It blocks
// until the server's goroutines are done. Idempotent: a later Stop only
// stops the server again, which does nothing.
func (s *Service) Stop(ctx context.Context) error {
	err := s.srv.Stop(ctx)
	return errors.Join(err, s.close())
}

// close closes the client and, if the Service made it, the selector. Once.
func (s *Service) close() error {
	s.closeOnce.Do(func() {
		errs := []error{s.cli.Close()}
		if s.ownSel {
			errs = append(errs, s.sel.Close())
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("service %q: close: %w", s.name, err)
		}
	})
	return s.closeErr
}

// Run starts the service, blocks until one of its signals arrives or ctx
// is done, then stops it with the shutdown timeout and closes the client
// and the selector it created. It returns nil after a clean shutdown, the
// Start error if the service could not start (after closing the client and
// selector), or the shutdown's error (for example requests abandoned after
// the timeout).
func (s *Service) Run(ctx context.Context) error {
	// Listen before starting, so a signal that arrives once the node is
	// registered is never missed.
	wait := ctx
	if len(s.opts.signals) > 0 {
		var stop context.CancelFunc
		wait, stop = signal.NotifyContext(ctx, s.opts.signals...)
		defer stop()
	}
	if err := s.Start(ctx); err != nil {
		return errors.Join(err, s.close())
	}
	<-wait.Done()
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.shutdownTimeout)
	defer cancel()
	return s.Stop(stopCtx)
}
