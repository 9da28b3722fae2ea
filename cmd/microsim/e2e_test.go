package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/broker/nats"
	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/registry/consul"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/service"
	"github.com/microsim/microsim/framework/transport/tcp"
)

// TestEndToEnd runs the microsim binary against a real Consul agent
// (bin/consul), an embedded NATS server and a greeter served over TCP: the
// CLI's commands, then the gateway, the dashboard and the sidecar (with a
// Python service registered through it) as processes stopped by SIGTERM.
func TestEndToEnd(t *testing.T) {
	consulAddr := agent.Addr(t)
	natsURL := startNATS(t)
	bin := filepath.Join(t.TempDir(), "microsim")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	// The greeter: Consul registry, TCP transport.
	cfg := api.DefaultConfig()
	cfg.Address = consulAddr
	reg, err := consul.New(cfg, consul.WithTag("microsim-cli-e2e"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = reg.Close() })
	tr, err := tcp.New()
	require.NoError(t, err)
	t.Cleanup(func() { _ = tr.Close() })
	svc, err := service.New("greeter-e2e", tr, reg, service.WithSignals(),
		service.WithServerOptions(server.WithAddress("127.0.0.1:0"), server.WithVersion("2.0")))
	require.NoError(t, err)
	require.NoError(t, svc.Handle(Greeter{}))
	require.NoError(t, svc.Start(t.Context()))
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })

	env := []string{"CONSUL_HTTP_ADDR=" + consulAddr, "NATS_URL=" + natsURL}
	run := func(stdin string, args ...string) result {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), bin, append(args, "--consul-tag", "microsim-cli-e2e")...)
		cmd.Env = append(cmd.Environ(), env...)
		cmd.Stdin = strings.NewReader(stdin)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		var ee *exec.ExitError
		code := 0
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return result{code: code, stdout: o.String(), stderr: e.String()}
	}

	r := run("", "services")
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, `greeter-e2e\s+2.0\s+1\s+2`, r.stdout)

	r = run("", "describe", "greeter-e2e")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, `request   main.HelloRequest {"name": string, "sleep": string}`, "shapes survive Consul's meta")

	r = run(`{"name": "consul"}`, "call", "greeter-e2e", "hello")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, `"Hello, consul"`)

	r = run("", "call", "greter-e2e", "hello", "{}")
	require.Equal(t, exitNotFound, r.code)
	require.Contains(t, r.stderr, "did you mean greeter-e2e?")

	r = run("", "health", "greeter-e2e", "-o", "json")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, `"reachable": true`)

	r = run("", "services", "--consul", "127.0.0.1:1")
	require.Equal(t, exitUnavailable, r.code)
	require.Contains(t, r.stderr, "hint: start Consul at 127.0.0.1:1")

	// publish reaches a NATS subscriber; subscribe prints what is published.
	b, err := nats.New(t.Context(), natsURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	got := make(chan string, 1)
	sub, err := b.Subscribe(t.Context(), "orders", func(_ context.Context, _ string, m *broker.Message) error {
		got <- string(m.Body)
		return nil
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Close() })
	r = run("", "publish", "orders", `{"id": "o-1"}`)
	require.Equal(t, 0, r.code, r.stderr)
	select {
	case body := <-got:
		require.JSONEq(t, `{"id": "o-1"}`, body)
	case <-time.After(10 * time.Second):
		t.Fatal("the published event did not arrive")
	}
	subscribed := make(chan result, 1)
	go func() { subscribed <- run("", "subscribe", "audit", "-n", "1", "--for", "20s") }()
	deadline := time.Now().Add(15 * time.Second)
	var subOut result
	for waiting := true; waiting; { // publish until the subscriber, once it listens, has one
		require.NoError(t, b.Publish(t.Context(), "audit", &broker.Message{Body: []byte(`{"n": 1}`)}))
		select {
		case subOut = <-subscribed:
			waiting = false
		case <-time.After(100 * time.Millisecond):
			require.True(t, time.Now().Before(deadline), "subscribe printed nothing")
		}
	}
	require.Equal(t, 0, subOut.code, subOut.stderr)
	require.Equal(t, "audit\t{\"n\": 1}\n", subOut.stdout)

	// The gateway, the dashboard and the sidecar, each stopped by SIGTERM.
	serveBin := func(args ...string) (url string, stop func()) {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--http", "127.0.0.1:0", "--consul-tag", "microsim-cli-e2e")...)
		cmd.Env = append(cmd.Environ(), env...)
		stderr, err := cmd.StderrPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		lines := bufio.NewReader(stderr)
		first, err := lines.ReadString('\n')
		require.NoError(t, err, "%v: %s", args, first)
		_, rest, ok := strings.Cut(first, "serving ")
		require.True(t, ok, first)
		return strings.Fields(rest)[0], func() {
			http.DefaultClient.CloseIdleConnections()
			require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
			tail, _ := io.ReadAll(lines)
			require.NoError(t, cmd.Wait(), "%v: exit 0 on SIGTERM: %s", args, tail)
			require.Contains(t, string(tail), "microsim "+args[0]+": stopped")
		}
	}
	post := func(url, body string) (int, string) {
		t.Helper()
		rsp, err := http.Post(url, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		defer rsp.Body.Close()
		b, err := io.ReadAll(rsp.Body)
		require.NoError(t, err)
		return rsp.StatusCode, string(b)
	}

	gwURL, stopGW := serveBin("gateway")
	code, body := post(gwURL+"/greeter-e2e/hello", `{"name": "gw"}`)
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"message": "Hello, gw"}`, body)
	stopGW()

	webURL, stopWeb := serveBin("web")
	rsp, err := http.Get(webURL + "/api/services")
	require.NoError(t, err)
	snap, _ := io.ReadAll(rsp.Body)
	rsp.Body.Close()
	require.Contains(t, string(snap), `"name":"greeter-e2e"`)
	stopWeb()

	// The sidecar with a Python service: registered in Consul through the
	// sidecar, called by this Go test over TCP, calling greeter-e2e back.
	sideURL, stopSide := serveBin("sidecar")
	py := exec.Command("python3", "../../sidecar/testdata/pyservice.py", sideURL, "greeter-e2e")
	pyIn, err := py.StdinPipe()
	require.NoError(t, err)
	pyOut, err := py.StdoutPipe()
	require.NoError(t, err)
	var pyErr strings.Builder
	py.Stderr = &pyErr
	require.NoError(t, py.Start())
	pyLines := bufio.NewScanner(pyOut)
	require.True(t, pyLines.Scan(), "python: %s", pyErr.String())
	require.Equal(t, "ready", pyLines.Text(), pyErr.String())
	sel, err := selector.New(reg)
	require.NoError(t, err)
	defer sel.Close()
	cli, err := client.New(sel, tr)
	require.NoError(t, err)
	defer cli.Close()
	var shout map[string]string
	require.NoError(t, cli.Call(t.Context(), "py-shouter", "Py.Shout", map[string]string{"text": "consul"}, &shout))
	require.Equal(t, "HELLO, CONSUL", shout["shout"])
	r = run("", "describe", "py-shouter")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "lang=python")
	require.NoError(t, pyIn.Close())
	require.True(t, pyLines.Scan(), pyErr.String())
	require.Equal(t, "bye", pyLines.Text())
	require.NoError(t, py.Wait())
	stopSide()
}

// startNATS runs an embedded NATS server on 127.0.0.1 until the test ends.
func startNATS(t *testing.T) string {
	t.Helper()
	srv, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: natsserver.RANDOM_PORT, NoLog: true, NoSigs: true})
	require.NoError(t, err)
	go srv.Start()
	require.True(t, srv.ReadyForConnections(10*time.Second), "nats server did not start")
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv.ClientURL()
}
