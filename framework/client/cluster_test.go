package client_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/memory"
)

// Echo is the handler the client tests call. Each instance knows its name
// and counts the calls it served.
type Echo struct {
	name  string
	delay time.Duration
	// hook, when set, runs first in Say with the 1-based number of the
	// call on this instance; an error it returns is Say's.
	hook func(ctx context.Context, call int) error

	mu    sync.Mutex
	calls int
	seen  []seen // what each call's ctx carried
}

type seen struct {
	remaining time.Duration
	tenant    string
}

type EchoRequest struct {
	Text  string
	Sleep time.Duration
	Fail  string // an error code name to fail with
}

type EchoReply struct {
	Text     string
	Instance string
}

func (e *Echo) Say(ctx context.Context, req *EchoRequest, rsp *EchoReply) error {
	e.mu.Lock()
	e.calls++
	s := seen{}
	if dl, ok := ctx.Deadline(); ok {
		s.remaining = time.Until(dl)
	}
	s.tenant, _ = metadata.Value(ctx, "tenant")
	e.seen = append(e.seen, s)
	n := e.calls
	e.mu.Unlock()
	if e.hook != nil {
		if err := e.hook(ctx, n); err != nil {
			return err
		}
	}

	d := e.delay
	if req.Sleep > 0 {
		d = req.Sleep
	}
	if d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if req.Fail != "" {
		code, err := errors.ParseCode(req.Fail)
		if err != nil {
			return err
		}
		return errors.New(e.name, code, "asked to fail")
	}
	rsp.Text, rsp.Instance = req.Text, e.name
	return nil
}

// callsOf is a function, not a method: every exported method of a handler
// must be an endpoint.
func callsOf(e *Echo) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls
}

// cluster is a memory network with instances of the "echo" service, each on
// a host of its own, and a client on host "client".
type cluster struct {
	t       *testing.T
	net     *memory.Network
	servers []server.Server
	echoes  []*Echo
	sel     selector.Selector
	client  client.Client
	hosts   []*memory.Host
}

type clusterConfig struct {
	instances  int
	delay      time.Duration
	ttl        time.Duration
	serverOpts []server.Option
	clientOpts []client.Option
	// instanceOpts adds server options to instance i.
	instanceOpts func(i int) []server.Option
	// hook sets Echo.hook of instance i (nil: none).
	hook func(i int) func(ctx context.Context, call int) error
	// wrapSel wraps the selector the client uses (c.sel stays the inner one).
	wrapSel func(selector.Selector) selector.Selector
}

func newCluster(t *testing.T, cfg clusterConfig) *cluster {
	t.Helper()
	ctx := context.Background()
	if cfg.ttl == 0 {
		cfg.ttl = 3 * time.Second
	}
	c := &cluster{t: t, net: memory.MustNetwork()}
	for i := range cfg.instances {
		h := c.net.Host(fmt.Sprintf("echo-%d", i))
		e := &Echo{name: h.Name(), delay: cfg.delay}
		if cfg.hook != nil {
			e.hook = cfg.hook(i)
		}
		opts := append([]server.Option{
			server.WithRegisterTTL(cfg.ttl),
			server.WithRegisterInterval(cfg.ttl / 3),
		}, cfg.serverOpts...)
		if cfg.instanceOpts != nil {
			opts = append(opts, cfg.instanceOpts(i)...)
		}
		s, err := server.New("echo", h.Transport(), h.Registry(), opts...)
		require.NoError(t, err)
		require.NoError(t, s.Handle(e))
		require.NoError(t, s.Start(ctx))
		c.servers = append(c.servers, s)
		c.echoes = append(c.echoes, e)
		c.hosts = append(c.hosts, h)
	}
	ch := c.net.Host("client")
	var err error
	c.sel, err = selector.New(ch.Registry())
	require.NoError(t, err)
	opts := append([]client.Option{client.WithRand(rand.New(rand.NewPCG(1, 2)))}, cfg.clientOpts...)
	sel := c.sel
	if cfg.wrapSel != nil {
		sel = cfg.wrapSel(sel)
	}
	c.client, err = client.New(sel, ch.Transport(), opts...)
	require.NoError(t, err)
	t.Cleanup(c.close)
	return c
}

func (c *cluster) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.client.Close()
	c.sel.Close()
	for _, s := range c.servers {
		_ = s.Stop(ctx)
	}
	c.net.Close()
}

func (c *cluster) calls() []int {
	out := make([]int, len(c.echoes))
	for i, e := range c.echoes {
		out[i] = callsOf(e)
	}
	return out
}

// Chat echoes every message it receives, prefixed, until the client half-closes.
func (e *Echo) Chat(ctx context.Context, stream server.Stream) error {
	for {
		var req EchoRequest
		if err := stream.Recv(&req); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if req.Fail != "" {
			return errors.New(e.name, errors.Conflict, "chat refused %q", req.Text)
		}
		if err := stream.Send(&EchoReply{Text: "re: " + req.Text, Instance: e.name}); err != nil {
			return err
		}
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

// stats returns the client's counters.
func (c *cluster) stats() client.Stats {
	c.t.Helper()
	sr, ok := c.client.(client.StatsReporter)
	require.True(c.t, ok, "the client implements StatsReporter")
	return sr.Stats()
}
