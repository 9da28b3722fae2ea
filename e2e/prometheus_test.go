package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/service"
	"github.com/microsim/microsim/framework/transport/tcp"
	"github.com/microsim/microsim/memory"
	"github.com/microsim/microsim/observe/metrics"
)

// RequirePrometheusEnv, set to 1 (as `make test` does), makes the
// Prometheus tests fail instead of skipping when prometheus or promtool
// is not on PATH.
const RequirePrometheusEnv = "MICROSIM_REQUIRE_PROMETHEUS"

// lookTool returns the path of a tool of Debian's prometheus package, or
// skips t (fails it under RequirePrometheusEnv=1) when it is missing.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := name + " not on PATH; run `make test` (installs Debian's prometheus package) or apt-get install prometheus"
	if os.Getenv(RequirePrometheusEnv) == "1" {
		t.Fatal(RequirePrometheusEnv + "=1 but " + msg)
	}
	t.Skip(msg)
	return ""
}

// TestPrometheusScrapesAService: a microsim service on the TCP transport,
// counting into a registry of its own served on /metrics at 127.0.0.1,
// is scraped by a real Prometheus server; the count of the calls made is
// read back through Prometheus's HTTP query API, and promtool finds
// nothing to fault in the exposition text.
func TestPrometheusScrapesAService(t *testing.T) {
	t.Parallel()
	promBin := lookTool(t, "prometheus")
	promtool := lookTool(t, "promtool")
	ctx := context.Background()

	// The service, and calls to it through its own client.
	world, err := memory.NewNetwork()
	require.NoError(t, err)
	t.Cleanup(func() { _ = world.Close() })
	tr, err := tcp.New()
	require.NoError(t, err)
	t.Cleanup(func() { _ = tr.Close() })
	reg := prometheus.NewRegistry()
	svc, err := service.New("echo", tr, world.Registry(), service.WithSignals(),
		service.WithServerOptions(server.WithAddress("127.0.0.1:0")), metrics.ServiceOption(reg))
	require.NoError(t, err)
	require.NoError(t, svc.Handle(&Echo{name: "echo-0"}))
	require.NoError(t, svc.Start(ctx))
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })
	sc, err := metrics.NewServiceCollector(svc, "echo")
	require.NoError(t, err)
	require.NoError(t, reg.Register(sc))
	const calls = 7
	for i := range calls {
		var rsp EchoReply
		require.NoError(t, svc.Client().Call(ctx, "echo", "Echo.Say", &EchoRequest{Seq: int64(i)}, &rsp))
	}

	// /metrics on loopback.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics.Handler(reg))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	target := ln.Addr().String()

	// promtool lints the exposition text.
	body := httpGet(t, "http://"+target+"/metrics")
	require.Contains(t, string(body), "micro_client_request_total")
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = bytes.NewReader(body)
	out, err := check.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s", out)
	assert.Empty(t, string(bytes.TrimSpace(out)), "promtool found problems")

	// Prometheus scrapes it every second.
	api := startPrometheus(t, promBin, target)
	query := `micro_client_request_total{micro_name="echo",micro_endpoint="Echo.Say",micro_status="success",micro_code="ok"}`
	var got float64
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, ok := promQuery(t, api, query)
		if ok {
			got = v
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus at %s did not return %s within 30 s", api, query)
		}
		time.Sleep(200 * time.Millisecond)
	}
	assert.Equal(t, float64(calls), got, "the counter read back through Prometheus")
	v, ok := promQuery(t, api, `micro_server_request_total{micro_name="echo",micro_code="ok"}`)
	assert.True(t, ok)
	assert.Equal(t, float64(calls), v)
	v, ok = promQuery(t, api, `micro_server_in_flight{micro_name="echo"}`)
	assert.True(t, ok)
	assert.Equal(t, 0.0, v)
}

// startPrometheus runs prometheus scraping target every second, with its
// storage in a temporary directory, and returns its base URL once it is
// ready. It is stopped when the test ends.
func startPrometheus(t *testing.T, bin, target string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: microsim
    static_configs:
      - targets: ['%s']
`, target)), 0o600))
	// Prometheus cannot report a port it picked itself, so it gets one
	// that was free a moment ago; a clash makes it exit, and it is tried
	// again on another.
	for try := 0; ; try++ {
		addr := freeAddr(t)
		var logs bytes.Buffer
		cmd := exec.Command(bin,
			"--config.file="+cfg,
			"--web.listen-address="+addr,
			"--storage.tsdb.path="+filepath.Join(dir, fmt.Sprintf("data-%d", try)),
		)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		require.NoError(t, cmd.Start())
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		base := "http://" + addr
		ready := waitReady(base+"/-/ready", exited, 20*time.Second)
		if ready == nil {
			t.Cleanup(func() {
				_ = cmd.Process.Signal(os.Interrupt)
				select {
				case <-exited:
				case <-time.After(10 * time.Second):
					_ = cmd.Process.Kill()
					<-exited
				}
			})
			return base
		}
		_ = cmd.Process.Kill()
		<-exited
		if try == 2 {
			t.Fatalf("prometheus did not become ready: %v\n%s", ready, logs.String())
		}
	}
}

// waitReady polls url until it answers 200, the process exits, or limit passes.
func waitReady(url string, exited <-chan error, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("prometheus exited: %v", err)
		default:
		}
		if rsp, err := http.Get(url); err == nil {
			_ = rsp.Body.Close()
			if rsp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %v", limit)
}

// freeAddr returns a 127.0.0.1 address whose port was free just now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func httpGet(t *testing.T, u string) []byte {
	t.Helper()
	rsp, err := http.Get(u)
	require.NoError(t, err)
	defer rsp.Body.Close()
	require.Equal(t, http.StatusOK, rsp.StatusCode)
	b, err := io.ReadAll(rsp.Body)
	require.NoError(t, err)
	return b
}

// promQuery runs an instant query and returns the value of its single
// sample; ok is false while the result is empty.
func promQuery(t *testing.T, api, query string) (v float64, ok bool) {
	t.Helper()
	body := httpGet(t, api+"/api/v1/query?query="+url.QueryEscape(query))
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &r), "%s", body)
	require.Equal(t, "success", r.Status, "%s", body)
	if len(r.Data.Result) == 0 {
		return 0, false
	}
	require.Len(t, r.Data.Result, 1, "%s", body)
	s, isString := r.Data.Result[0].Value[1].(string)
	require.True(t, isString, "%s", body)
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	return v, true
}
