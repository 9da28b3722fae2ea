package gateway_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/service"
	"github.com/microsim/microsim/framework/transport/tcp"
	"github.com/microsim/microsim/gateway"
	"github.com/microsim/microsim/memory"
)

// TestCurlThroughTCP: Debian's curl calls a gateway served on 127.0.0.1
// in front of a service reached over the TCP transport.
func TestCurlThroughTCP(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatalf("this test needs curl (apt-get install curl): %v", err)
	}
	tr, err := tcp.New()
	require.NoError(t, err)
	t.Cleanup(func() { _ = tr.Close() })
	reg := memory.MustNetwork()
	t.Cleanup(func() { _ = reg.Close() })

	svc, err := service.New("greeter", tr, reg.Registry(), service.WithSignals(),
		service.WithServerOptions(server.WithAddress("127.0.0.1:0")))
	require.NoError(t, err)
	require.NoError(t, svc.Handle(Greeter{}))
	require.NoError(t, svc.Start(t.Context()))
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })

	sel, err := selector.New(reg.Registry())
	require.NoError(t, err)
	t.Cleanup(func() { _ = sel.Close() })
	cli, err := client.New(sel, tr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	gw, err := gateway.New(reg.Registry(), cli)
	require.NoError(t, err)
	srv := httptest.NewServer(gw) // 127.0.0.1, port 0
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, gw.Close(context.Background()))
	})
	require.True(t, strings.HasPrefix(srv.URL, "http://127.0.0.1:"), srv.URL)

	run := func(args ...string) (status string, body map[string]any) {
		out, err := exec.CommandContext(t.Context(), curl, append([]string{"-sS", "-w", "\n%{http_code}"}, args...)...).Output()
		require.NoError(t, err, "curl %v", args)
		text := strings.TrimSpace(string(out))
		i := strings.LastIndexByte(text, '\n')
		require.Positive(t, i, "curl output %q", text)
		require.NoError(t, json.Unmarshal([]byte(text[:i]), &body), "curl body %q", text[:i])
		return text[i+1:], body
	}
	status, body := run("-X", "POST", "-H", "Content-Type: application/json", "-H", "X-User: ana",
		"-d", `{"name": "curl"}`, srv.URL+"/greeter/hello")
	require.Equal(t, "200", status)
	require.Equal(t, "Hello, curl", body["message"])
	md, _ := body["md"].(map[string]any)
	require.Len(t, md, 2, "%v", md)
	require.Equal(t, "ana", md["X-User"])
	require.Contains(t, md["User-Agent"], "curl/")

	status, body = run("-d", `{"service": "greeter", "endpoint": "Greeter.Hello", "request": {"name": "rpc"}}`, srv.URL+"/rpc")
	require.Equal(t, "415", status, "curl -d sends form content: the gateway says to send JSON")
	require.Contains(t, body["detail"], "application/json")

	status, body = run("--json", `{"service": "greeter", "endpoint": "Greeter.Hello", "request": {"name": "rpc"}}`, srv.URL+"/rpc")
	require.Equal(t, "200", status)
	require.Equal(t, "Hello, rpc", body["message"])

	status, body = run("--json", `{"name": `, srv.URL+"/greeter/hello")
	require.Equal(t, "400", status)
	require.Contains(t, body["detail"], "line 1, column 10")

	status, body = run("--json", `{}`, srv.URL+"/greter/hello")
	require.Equal(t, "404", status)
	require.Equal(t, []any{"greeter"}, body["suggestions"])

	status, body = run("--json", `{"sleep": "5s"}`, srv.URL+"/greeter/hello?timeout=100ms")
	require.Equal(t, "504", status)
	require.Equal(t, "deadline_exceeded", body["code"])

	status, body = run("--path-as-is", "--json", `{}`, srv.URL+"/greeter/../hello")
	require.Equal(t, "400", status)
	require.Equal(t, "bad_request", body["code"])
}
