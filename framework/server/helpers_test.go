package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/codec"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/internal/wire"
	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/internal/ctxwake"
	"github.com/microsim/microsim/memory"
)

// Test types served by the Greeter handler.
type HelloRequest struct {
	Name string `json:"name"`
}

type HelloReply struct {
	Greeting string `json:"greeting"`
}

type SleepRequest struct {
	Delay time.Duration `json:"delay"`
}

type SleepReply struct {
	Slept time.Duration `json:"slept"`
}

// Greeter is the handler most tests serve as service "greeter".
type Greeter struct {
	mu    sync.Mutex
	calls int
	// seen receives what every Inspect call saw.
	seen chan inspection
	naps []nap // what every Nap call saw
}

// nap is what Nap saw of its ctx once its sleep ended.
type nap struct {
	ok, built bool // it was a handler ctx; it was built
	err       error
}

// napsSeen returns what the Nap calls saw so far.
func (g *Greeter) napsSeen() []nap {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]nap(nil), g.naps...)
}

// inspection is what Inspect saw of its ctx.
type inspection struct {
	md          metadata.MD
	hasMD       bool
	hasDeadline bool
	remaining   time.Duration
}

// Hello greets.
func (g *Greeter) Hello(ctx context.Context, req *HelloRequest, rsp *HelloReply) error {
	g.mu.Lock()
	g.calls++
	g.mu.Unlock()
	rsp.Greeting = "hello " + req.Name
	return nil
}

// Sleep waits req.Delay (or until ctx ends) and reports how long it slept.
func (g *Greeter) Sleep(ctx context.Context, req *SleepRequest, rsp *SleepReply) error {
	start := time.Now()
	select {
	case <-time.After(req.Delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	rsp.Slept = time.Since(start)
	return nil
}

// Nap is Sleep on a ctxwake.Sleeper, as the simulator's synthetic
// endpoints sleep: its ctx is woken by a cancellation without being built
// (built tells whether it was, afterwards).
func (g *Greeter) Nap(ctx context.Context, req *SleepRequest, rsp *SleepReply) error {
	start := time.Now()
	var s ctxwake.Sleeper
	err := s.Sleep(ctx, req.Delay)
	built, ok := server.HandlerCtxBuilt(ctx)
	g.mu.Lock()
	g.naps = append(g.naps, nap{ok: ok, built: built, err: err})
	g.mu.Unlock()
	if err != nil {
		return err
	}
	rsp.Slept = time.Since(start)
	return nil
}

// Inspect reports its ctx's metadata and deadline to the test.
func (g *Greeter) Inspect(ctx context.Context, req *HelloRequest, rsp *HelloReply) error {
	var in inspection
	in.md, in.hasMD = metadata.FromContext(ctx)
	var dl time.Time
	if dl, in.hasDeadline = ctx.Deadline(); in.hasDeadline {
		in.remaining = time.Until(dl)
	}
	g.seen <- in
	return nil
}

// Panic panics.
func (g *Greeter) Panic(ctx context.Context, req *HelloRequest, rsp *HelloReply) error {
	panic("boom " + req.Name)
}

// Fail returns a plain error.
func (g *Greeter) Fail(ctx context.Context, req *HelloRequest, rsp *HelloReply) error {
	return fmt.Errorf("cannot greet %s", req.Name)
}

// Conflict returns a framework error.
func (g *Greeter) Conflict(ctx context.Context, req *HelloRequest, rsp *HelloReply) error {
	return errors.New("greeter.store", errors.Conflict, "%s exists", req.Name)
}

// Big replies with a greeting of len(req.Name) * 1 KiB.
func (g *Greeter) Big(ctx context.Context, req *HelloRequest, rsp *HelloReply) error {
	b := make([]byte, len(req.Name)<<10)
	for i := range b {
		b[i] = 'x'
	}
	rsp.Greeting = string(b)
	return nil
}

// Echo sends every message back and ends when the client half-closes.
func (g *Greeter) Echo(ctx context.Context, stream server.Stream) error {
	for {
		var m HelloRequest
		err := stream.Recv(&m)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if m.Name == "fail" {
			return errors.New("greeter", errors.Conflict, "echo refused %q", m.Name)
		}
		if err := stream.Send(&HelloReply{Greeting: m.Name}); err != nil {
			return err
		}
	}
}

func (g *Greeter) helloCalls() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls
}

// world is one memory network with a server host and a client host.
type world struct {
	net     *memory.Network
	srvHost *memory.Host
	cliHost *memory.Host
}

// reg is h's view of the network's registry.
func (w *world) reg(h *memory.Host) registry.Registry { return h.Registry() }

func newWorld(t *testing.T, opts ...memory.Option) *world {
	t.Helper()
	n, err := memory.NewNetwork(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { n.Close() })
	return &world{net: n, srvHost: n.Host("srv"), cliHost: n.Host("cli")}
}

// server builds a greeter server on the server host; it is stopped when the
// test ends.
func (w *world) server(t *testing.T, g *Greeter, opts ...server.Option) server.Server {
	t.Helper()
	return w.serverOn(t, w.srvHost, g, opts...)
}

func (w *world) serverOn(t *testing.T, h *memory.Host, g *Greeter, opts ...server.Option) server.Server {
	t.Helper()
	s, err := server.New("greeter", h.Transport(), w.reg(h), opts...)
	require.NoError(t, err)
	if g != nil {
		require.NoError(t, s.Handle(g))
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s
}

func (w *world) started(t *testing.T, g *Greeter, opts ...server.Option) server.Server {
	t.Helper()
	s := w.server(t, g, opts...)
	require.NoError(t, s.Start(t.Context()))
	return s
}

// rawClient speaks the wire protocol over one connection, without the
// client package.
type rawClient struct {
	conn  transport.Conn
	codec codec.Codec
}

func (w *world) dial(t *testing.T, addr string) *rawClient {
	t.Helper()
	conn, err := w.cliHost.Transport().Dial(t.Context(), addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return &rawClient{conn: conn, codec: codec.JSON()}
}

// request builds request headers: ctx's metadata, the service, endpoint,
// content type and, when ctx has a deadline, Micro-Timeout.
func (c *rawClient) request(ctx context.Context, service, endpoint string) map[string]string {
	h := map[string]string{}
	metadata.ToHeader(ctx, h)
	h[wire.Service] = service
	h[wire.Endpoint] = endpoint
	h[wire.ContentType] = c.codec.ContentType()
	if dl, ok := ctx.Deadline(); ok {
		h[wire.Timeout] = wire.FormatTimeout(time.Until(dl))
	}
	return h
}

// roundTrip sends one message on a new stream and returns the reply.
func (c *rawClient) roundTrip(ctx context.Context, m *transport.Message) (*transport.Message, error) {
	sock, err := c.conn.NewStream(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer sock.Close()
	if err := sock.Send(ctx, m); err != nil {
		return nil, err
	}
	reply, err := sock.Recv(ctx)
	if err != nil {
		return nil, err
	}
	return reply.Clone(), nil // the reply is lent until Close
}

// call is a unary call: the reply's error headers become an *errors.Error.
func (c *rawClient) call(ctx context.Context, service, endpoint string, req, rsp any) error {
	body, err := c.codec.Marshal(req)
	if err != nil {
		return err
	}
	reply, err := c.roundTrip(ctx, &transport.Message{Header: c.request(ctx, service, endpoint), Body: body})
	if err != nil {
		return err
	}
	if e := errors.FromHeader(reply.Header); e != nil {
		return e
	}
	if ct := reply.Header[wire.ContentType]; ct != c.codec.ContentType() {
		return fmt.Errorf("reply content type %q, want %q", ct, c.codec.ContentType())
	}
	return c.codec.Unmarshal(reply.Body, rsp)
}

// overrun asks the greeter's endpoint to sleep 5s with 2s left of the
// request's deadline (the client itself waits longer) and returns the
// error the server replied with, once it checked that the reply came at
// the deadline, with DeadlineExceeded naming the endpoint.
func (c *rawClient) overrun(t *testing.T, endpoint string) *errors.Error {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	m := &transport.Message{Header: c.request(ctx, "greeter", endpoint), Body: []byte(`{"delay":5000000000}`)}
	reply, err := c.roundTrip(t.Context(), m)
	require.NoError(t, err)
	e := errors.FromHeader(reply.Header)
	require.NotNil(t, e)
	assert.Equal(t, errors.DeadlineExceeded, e.Code)
	assert.Contains(t, e.Detail, endpoint)
	assert.Equal(t, 2*time.Second, time.Since(start))
	return e
}

// openStream opens a streaming call.
func (c *rawClient) openStream(ctx context.Context, service, endpoint string) (transport.Socket, error) {
	sock, err := c.conn.NewStream(ctx, nil)
	if err != nil {
		return nil, err
	}
	h := c.request(ctx, service, endpoint)
	h[wire.StreamOpen] = "1"
	if err := sock.Send(ctx, &transport.Message{Header: h}); err != nil {
		sock.Close()
		return nil, err
	}
	return sock, nil
}

// code returns the errors.Code of err, failing the test if err is not an
// *errors.Error from the server.
func code(t *testing.T, err error) errors.Code {
	t.Helper()
	require.Error(t, err)
	var e *errors.Error
	require.ErrorAs(t, err, &e)
	return e.Code
}

// watchService returns a registry watcher of the greeter service.
func watchService(t *testing.T, reg registry.Registry) registry.Watcher {
	t.Helper()
	w, err := reg.Watch(t.Context(), registry.WatchService("greeter"))
	require.NoError(t, err)
	t.Cleanup(w.Stop)
	return w
}

// logRecorder is a slog.Handler that keeps every record's level and message.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Level.String()+" "+rec.Message)
	return nil
}

// count returns how many records contain substr.
func (r *logRecorder) count(substr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if strings.Contains(m, substr) {
			n++
		}
	}
	return n
}

// hookReg is a registry decorator: before each call it runs the matching
// hook, which may fail the call.
type hookReg struct {
	registry.Registry
	onRegister   func() error
	onDeregister func() error
}

func (r *hookReg) Register(ctx context.Context, s *registry.Service, opts ...registry.RegisterOption) error {
	if r.onRegister != nil {
		if err := r.onRegister(); err != nil {
			return err
		}
	}
	return r.Registry.Register(ctx, s, opts...)
}

func (r *hookReg) Deregister(ctx context.Context, s *registry.Service) error {
	if r.onDeregister != nil {
		if err := r.onDeregister(); err != nil {
			return err
		}
	}
	return r.Registry.Deregister(ctx, s)
}
