package web_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/service"
	"github.com/microsim/microsim/memory"
	"github.com/microsim/microsim/web"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type HelloRequest struct {
	Name string `json:"name"`
}

type HelloReply struct {
	Message string `json:"message"`
}

type Greeter struct{}

func (Greeter) Hello(ctx context.Context, req *HelloRequest, rsp *HelloReply) error {
	rsp.Message = "Hello, " + req.Name
	return nil
}

// ttl is the registration TTL of the test's nodes.
const ttl = 3 * time.Second

// world is greeter on node-1 (zone a) and node-2 (zone b), and a
// dashboard on host web.
type world struct {
	net  *memory.Network
	dash *web.Dashboard
	svcs map[string]*service.Service
}

func newWorld(t *testing.T, opts ...web.Option) *world {
	t.Helper()
	net := memory.MustNetwork()
	t.Cleanup(func() { _ = net.Close() })
	w := &world{net: net, svcs: map[string]*service.Service{}}
	for i, h := range []string{"node-1", "node-2"} {
		host := net.Host(h)
		svc, err := service.New("greeter", host.Transport(), host.Registry(), service.WithSignals(),
			service.WithServerOptions(server.WithVersion("1.0"), server.WithRegisterTTL(ttl), server.WithRegisterInterval(ttl/3),
				server.WithMetadata(map[string]string{"zone": string(rune('a' + i)), "build": "b7"})))
		require.NoError(t, err)
		require.NoError(t, svc.Handle(Greeter{}))
		require.NoError(t, svc.Start(t.Context()))
		t.Cleanup(func() { _ = svc.Stop(context.Background()) })
		w.svcs[h] = svc
	}
	host := net.Host("web")
	sel, err := selector.New(host.Registry())
	require.NoError(t, err)
	t.Cleanup(func() { _ = sel.Close() })
	cli, err := client.New(sel, host.Transport())
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	d, err := web.New(host.Registry(), cli, append([]web.Option{web.WithSelector(sel)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	w.dash = d
	return w
}

// eventWriter is a ResponseWriter that hands each flushed write to a channel.
type eventWriter struct {
	mu     sync.Mutex
	header http.Header
	buf    strings.Builder
	events chan string
}

func newEventWriter() *eventWriter {
	return &eventWriter{header: http.Header{}, events: make(chan string, 64)}
}

func (e *eventWriter) Header() http.Header { return e.header }
func (e *eventWriter) WriteHeader(int)     {}
func (e *eventWriter) Write(b []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.buf.Write(b)
}

func (e *eventWriter) Flush() {
	e.mu.Lock()
	s := e.buf.String()
	e.buf.Reset()
	e.mu.Unlock()
	if strings.HasPrefix(s, "event: snapshot\ndata: ") {
		e.events <- strings.TrimSuffix(strings.TrimPrefix(s, "event: snapshot\ndata: "), "\n\n")
	}
}
