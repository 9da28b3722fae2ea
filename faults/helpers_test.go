package faults_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/faults"
	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/transporttest"
	"github.com/microsim/microsim/memory"
)

// testCtx bounds a whole test: a hang fails in virtual time.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
	t.Cleanup(cancel)
	return ctx
}

// Echo is the handler of the "echo" service. It counts its calls.
type Echo struct {
	name  string
	delay time.Duration

	mu    sync.Mutex
	calls int
}

type EchoRequest struct{ Text string }

type EchoReply struct {
	Text     string
	Instance string
}

func (e *Echo) Say(ctx context.Context, req *EchoRequest, rsp *EchoReply) error {
	e.mu.Lock()
	e.calls++
	e.mu.Unlock()
	if e.delay > 0 {
		select {
		case <-time.After(e.delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	rsp.Text, rsp.Instance = req.Text, e.name
	return nil
}

func callsOf(e *Echo) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls
}

// world is a memory network with echo instances on hosts "echo-0",
// "echo-1", ... (zones alternate "a", "b") and a client on host "client",
// every seam decorated by one injector.
type world struct {
	t      *testing.T
	net    *memory.Network
	inj    *faults.Injector
	nodes  []*faults.HostNode
	echoes []*Echo
	hosts  []*memory.Host
	sel    selector.Selector
	client client.Client
	reg    registry.Registry // an undecorated view of the registry
}

type worldConfig struct {
	seed       uint64
	instances  int
	delay      time.Duration
	ttl        time.Duration
	serverOpts []server.Option
	clientOpts []client.Option
	selOpts    []selector.Option
	injOpts    []faults.Option
}

func newWorld(t *testing.T, cfg worldConfig) *world {
	t.Helper()
	ctx := context.Background()
	if cfg.ttl == 0 {
		cfg.ttl = 3 * time.Second
	}
	if cfg.seed == 0 {
		cfg.seed = 7
	}
	w := &world{t: t, net: memory.MustNetwork(), inj: faults.New(cfg.seed, cfg.injOpts...)}
	w.reg = w.net.Registry()
	for i := range cfg.instances {
		h := w.net.Host(fmt.Sprintf("echo-%d", i))
		name := h.Name()
		e := &Echo{name: name, delay: cfg.delay}
		tr := w.inj.WrapTransport(name, h.Transport(), nil)
		reg := w.inj.WrapRegistry(name, h.Registry())
		node := faults.NewHostNode(h, func(addr string) (server.Server, error) {
			opts := append([]server.Option{
				server.WithAddress(addr),
				server.WithRegisterTTL(cfg.ttl),
				server.WithRegisterInterval(cfg.ttl / 3),
				server.WithHandlerWrapper(w.inj.ServerWrapper(name)),
			}, cfg.serverOpts...)
			s, err := server.New("echo", tr, reg, opts...)
			if err != nil {
				return nil, err
			}
			return s, s.Handle(e)
		})
		zone := []string{"a", "b"}[i%2]
		require.NoError(t, w.inj.AddNode(name, faults.NodeInfo{Service: "echo", Zone: zone, Control: node}))
		require.NoError(t, node.Start(ctx))
		w.nodes = append(w.nodes, node)
		w.echoes = append(w.echoes, e)
		w.hosts = append(w.hosts, h)
	}
	ch := w.net.Host("client")
	require.NoError(t, w.inj.AddNode("client", faults.NodeInfo{Zone: "a"}))
	var err error
	selOpts := append([]selector.Option{selector.WithRand(newRand(cfg.seed))}, cfg.selOpts...)
	w.sel, err = selector.New(w.inj.WrapRegistry("client", ch.Registry()), selOpts...)
	require.NoError(t, err)
	opts := append([]client.Option{
		client.WithRand(newRand(cfg.seed + 1)),
		client.WithAttemptWrapper(w.inj.ClientWrapper("client")),
	}, cfg.clientOpts...)
	w.client, err = client.New(w.sel, w.inj.WrapTransport("client", ch.Transport(), nil), opts...)
	require.NoError(t, err)
	t.Cleanup(w.close)
	return w
}

func (w *world) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w.client.Close()
	w.sel.Close()
	for _, h := range w.hosts {
		h.Resume()
	}
	for _, n := range w.nodes {
		_ = n.Close(ctx)
	}
	w.inj.Close()
	w.net.Close()
}

// call makes one echo call.
func (w *world) call(ctx context.Context, opts ...client.CallOption) (EchoReply, error) {
	var rsp EchoReply
	err := w.client.Call(ctx, "echo", "Echo.Say", &EchoRequest{Text: "hi"}, &rsp, opts...)
	return rsp, err
}

func (w *world) calls() []int {
	out := make([]int, len(w.echoes))
	for i, e := range w.echoes {
		out[i] = callsOf(e)
	}
	return out
}

// nodesOf lists the IDs of the registered nodes of the echo service.
func nodesOf(t *testing.T, reg registry.Registry) []string {
	t.Helper()
	svcs, err := reg.GetService(context.Background(), "echo")
	if err != nil {
		require.ErrorIs(t, err, registry.ErrNotFound)
		return nil
	}
	var ids []string
	for _, s := range svcs {
		for _, n := range s.Nodes {
			ids = append(ids, n.ID)
		}
	}
	return ids
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

func codeOf(err error) errors.Code { return errors.CodeOf(err) }

// link is a raw stream from host "a" (transport decorated by inj) to a
// listener on host "b" (not decorated).
type link struct {
	net    *memory.Network
	inj    *faults.Injector
	tr     transport.Transport // a's decorated transport
	l      transport.Listener
	acc    *transporttest.Acceptor // serves l
	cs, ss transport.Socket
}

func newLink(t *testing.T, inj *faults.Injector) *link {
	t.Helper()
	ctx := testCtx(t)
	n := memory.MustNetwork()
	for _, name := range []string{"a", "b"} {
		_ = inj.AddNode(name, faults.NodeInfo{}) // ErrExists when the test added it
	}
	lk := &link{net: n, inj: inj, tr: inj.WrapTransport("a", n.Host("a").Transport(), nil)}
	var err error
	lk.l, err = n.Host("b").Transport().Listen("b:80")
	require.NoError(t, err)
	lk.acc = transporttest.NewAcceptor(lk.l)
	lk.cs, lk.ss = lk.stream(t, ctx)
	t.Cleanup(func() {
		inj.Close()
		n.Close()
		lk.acc.Close()
	})
	return lk
}

// stream dials b:80 again and opens a stream.
func (lk *link) stream(t *testing.T, ctx context.Context) (cs, ss transport.Socket) {
	t.Helper()
	c, err := lk.tr.Dial(ctx, "b:80")
	require.NoError(t, err)
	cs, err = c.NewStream(ctx, nil)
	require.NoError(t, err)
	ss, err = lk.acc.Accept(ctx)
	require.NoError(t, err)
	return cs, ss
}

// numbered is message i, with an 8-byte body holding i.
func numbered(i int) *transport.Message {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(i))
	return &transport.Message{Body: b}
}

func numberOf(m *transport.Message) int { return int(binary.BigEndian.Uint64(m.Body)) }

// syncTest is synctest.Test.
func syncTest(t *testing.T, f func(*testing.T)) { synctest.Test(t, f) }
