package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/microsim/microsim/framework/client"
	ferrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/service"
	"github.com/microsim/microsim/gateway"
	"github.com/microsim/microsim/memory"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type HelloRequest struct {
	Name  string `json:"name"`
	Sleep string `json:"sleep"` // a Go duration
	Fail  string `json:"fail"`  // an error code name to return
}

type HelloReply struct {
	Message string            `json:"message"`
	MD      map[string]string `json:"md,omitempty"`
}

type Greeter struct{}

// Hello greets, after sleeping req.Sleep, or fails with req.Fail's code.
func (Greeter) Hello(ctx context.Context, req *HelloRequest, rsp *HelloReply) error {
	if req.Sleep != "" {
		d, err := time.ParseDuration(req.Sleep)
		if err != nil {
			return ferrors.NewBadRequest("greeter", "sleep: %v", err)
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if req.Fail != "" {
		code, err := ferrors.ParseCode(req.Fail)
		if err != nil {
			return err
		}
		return ferrors.New("greeter", code, "asked to fail")
	}
	rsp.Message = "Hello, " + req.Name
	if md, ok := metadata.FromContext(ctx); ok && len(md) > 0 {
		rsp.MD = md
	}
	return nil
}

// Admin shares a method name with Greeter.
type Admin struct{}

func (Admin) Hello(ctx context.Context, req *HelloRequest, rsp *HelloReply) error {
	rsp.Message = "admin"
	return nil
}

func (Admin) Reset(ctx context.Context, req *HelloRequest, rsp *HelloReply) error {
	rsp.Message = "reset"
	return nil
}

// world is a greeter service on host node-1 and a gateway on host gw.
type world struct {
	net *memory.Network
	gw  *gateway.Gateway
}

func newWorld(t *testing.T, opts ...gateway.Option) *world {
	t.Helper()
	net := memory.MustNetwork()
	t.Cleanup(func() { _ = net.Close() })
	svc, err := service.New("greeter", net.Host("node-1").Transport(), net.Host("node-1").Registry(),
		service.WithSignals(), service.WithServerOptions(server.WithVersion("1.0")))
	require.NoError(t, err)
	require.NoError(t, svc.Handle(Greeter{}))
	require.NoError(t, svc.Handle(Admin{}))
	require.NoError(t, svc.Start(t.Context()))
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })

	host := net.Host("gw")
	sel, err := selector.New(host.Registry())
	require.NoError(t, err)
	t.Cleanup(func() { _ = sel.Close() })
	cli, err := client.New(sel, host.Transport())
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	gw, err := gateway.New(host.Registry(), cli, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close(context.Background()) })
	return &world{net: net, gw: gw}
}

// reply is a recorded response.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r *reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body %s", r.body)
	return m
}

func (r *reply) problem(t *testing.T) gateway.Problem {
	t.Helper()
	var p gateway.Problem
	require.NoError(t, json.Unmarshal(r.body, &p), "body %s", r.body)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	require.Equal(t, r.status, p.Status)
	return p
}

// do serves one request directly (no socket), so it runs in a bubble.
func (w *world) do(t *testing.T, method, target, body string, hdr ...string) *reply {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, target, bytes.NewBufferString(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	w.gw.ServeHTTP(rec, req)
	return &reply{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}
