package sidecar_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/service"
	"github.com/microsim/microsim/framework/transport/tcp"
	"github.com/microsim/microsim/memory"
	"github.com/microsim/microsim/sidecar"
)

type HelloRequest struct {
	Name string `json:"name"`
}

type HelloReply struct {
	Message string `json:"message"`
}

type Greeter struct{}

func (Greeter) Hello(_ context.Context, req *HelloRequest, rsp *HelloReply) error {
	rsp.Message = "Hello, " + req.Name
	return nil
}

func need(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("this test needs %s (Debian's %s package): %v", name, name, err)
	}
	return p
}

// TestPythonAndCurl: a Python program (standard library only) registers
// through the sidecar, a Go client calls it through the framework, and it
// calls the Go greeter back through the sidecar; curl calls it, subscribes
// a URL, publishes and reads the sidecar's health. Everything runs over TCP
// on 127.0.0.1.
func TestPythonAndCurl(t *testing.T) {
	python, curl := need(t, "python3"), need(t, "curl")
	tr, err := tcp.New()
	require.NoError(t, err)
	t.Cleanup(func() { _ = tr.Close() })
	net := memory.MustNetwork() // the registry and the broker
	t.Cleanup(func() { _ = net.Close() })

	greeter, err := service.New("greeter", tr, net.Registry(), service.WithSignals(),
		service.WithServerOptions(server.WithAddress("127.0.0.1:0")))
	require.NoError(t, err)
	require.NoError(t, greeter.Handle(Greeter{}))
	require.NoError(t, greeter.Start(t.Context()))
	t.Cleanup(func() { _ = greeter.Stop(context.Background()) })

	sideHost := net.Host("side")
	sc, err := sidecar.New(tr, net.Registry(), newTCPClient(t, tr, net), sideHost.Broker(), sidecar.WithAddress("127.0.0.1:0"))
	require.NoError(t, err)
	srv := httptest.NewServer(sc)
	t.Cleanup(func() {
		require.NoError(t, sc.Close(context.Background()))
		srv.Close()
	})

	// The Python service.
	py := exec.CommandContext(t.Context(), python, "testdata/pyservice.py", srv.URL)
	stdin, err := py.StdinPipe()
	require.NoError(t, err)
	stdout, err := py.StdoutPipe()
	require.NoError(t, err)
	var pyErr strings.Builder
	py.Stderr = &pyErr
	require.NoError(t, py.Start())
	lines := bufio.NewScanner(stdout)
	require.True(t, lines.Scan(), "python printed nothing: %s", pyErr.String())
	require.Equal(t, "ready", lines.Text(), pyErr.String())

	svcs, err := net.Registry().GetService(t.Context(), "py-shouter")
	require.NoError(t, err)
	require.Equal(t, "py-1", svcs[0].Version)
	require.Equal(t, "python", svcs[0].Nodes[0].Metadata["lang"])

	// A Go client calls the Python service through the framework (TCP).
	cli := newTCPClient(t, tr, net)
	ctx, cancel := context.WithTimeout(metadata.NewContext(t.Context(), metadata.New("X-User", "gopher")), 10*time.Second)
	defer cancel()
	var out map[string]string
	require.NoError(t, cli.Call(ctx, "py-shouter", "Py.Shout", map[string]string{"text": "go"}, &out))
	require.Equal(t, map[string]string{"shout": "HELLO, GO", "caller": "gopher"}, out)

	curlJSON := func(args ...string) (int, map[string]any) {
		t.Helper()
		b, err := exec.CommandContext(t.Context(), curl, append([]string{"-sS", "-w", "\n%{http_code}"}, args...)...).Output()
		require.NoError(t, err, "curl %v", args)
		text := strings.TrimSpace(string(b))
		i := strings.LastIndexByte(text, '\n')
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(text[:i]), &m), "curl body %q", text)
		code, err := strconv.Atoi(text[i+1:])
		require.NoError(t, err)
		return code, m
	}
	// curl -> sidecar -> Python -> sidecar -> Go greeter.
	code, body := curlJSON("--json", `{"service": "py-shouter", "endpoint": "Py.Shout", "request": {"text": "curl"}}`, srv.URL+"/rpc")
	require.Equal(t, 200, code, "%v", body)
	require.Equal(t, "HELLO, CURL", body["shout"])
	code, body = curlJSON("--json", `{"text": "x"}`, srv.URL+"/py-shouter/nope")
	require.Equal(t, 404, code)
	require.Contains(t, body["detail"], `service "py-shouter" has no endpoint "nope"`)

	// curl subscribes a receiver and publishes to it.
	got := make(chan string, 1)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.Header.Get("Micro-Topic") + " " + string(b)
	}))
	defer recv.Close()
	code, body = curlJSON("--json", `{"topic": "orders", "url": "`+recv.URL+`/events"}`, srv.URL+"/subscribe")
	require.Equal(t, 200, code, "%v", body)
	code, body = curlJSON("--json", `{"topic": "orders", "message": {"id": "o-1"}}`, srv.URL+"/publish")
	require.Equal(t, 200, code, "%v", body)
	select {
	case ev := <-got:
		require.Equal(t, `orders {"id":"o-1"}`, ev)
	case <-time.After(10 * time.Second):
		t.Fatal("the event was not delivered")
	}
	code, body = curlJSON(srv.URL + "/health")
	require.Equal(t, 200, code)
	regs, _ := body["registrations"].([]any)
	require.Len(t, regs, 1)
	reg0, _ := regs[0].(map[string]any)
	require.Equal(t, "py-shouter", reg0["name"])
	require.Equal(t, 2.0, reg0["calls"])
	require.Equal(t, 0.0, reg0["failures"])
	subs, _ := body["subscriptions"].([]any)
	require.Len(t, subs, 1)
	require.Equal(t, 1.0, subs[0].(map[string]any)["delivered"])

	// The Python service deregisters when its input closes.
	require.NoError(t, stdin.Close())
	require.True(t, lines.Scan(), pyErr.String())
	require.Equal(t, "bye", lines.Text())
	require.NoError(t, py.Wait(), pyErr.String())
	_, err = net.Registry().GetService(t.Context(), "py-shouter")
	require.ErrorIs(t, err, registry.ErrNotFound)
}
