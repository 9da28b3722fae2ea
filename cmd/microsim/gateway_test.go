package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// serve runs a serving command (gateway, web, sidecar) against the world
// until stop, which interrupts it as a signal would and returns its result.
func (w *world) serve(t *testing.T, args ...string) (addr string, stop func() result) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	addrs := make(chan string, 1)
	done := make(chan result, 1)
	go func() { done <- w.runCtx(ctx, t, "", func(a string) { addrs <- a }, args...) }()
	select {
	case addr = <-addrs:
	case r := <-done:
		cancel()
		t.Fatalf("%v exited %d: %s", args, r.code, r.stderr)
	}
	require.True(t, strings.HasPrefix(addr, "127.0.0.1:"), addr)
	return addr, func() result {
		http.DefaultClient.CloseIdleConnections()
		cancel()
		return <-done
	}
}

// httpDo makes one request and returns the status and the body.
func httpDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rsp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer rsp.Body.Close()
	b, err := io.ReadAll(rsp.Body)
	require.NoError(t, err)
	return rsp.StatusCode, string(b)
}

// TestGatewayCommand serves the gateway on 127.0.0.1 port 0 in front of the
// memory world, calls it over HTTP, and stops it as a signal would.
func TestGatewayCommand(t *testing.T) {
	w := newWorld(t)
	addr, stop := w.serve(t, "gateway", "--http", "127.0.0.1:0", "--grace", "2s")
	code, body := httpDo(t, "POST", "http://"+addr+"/greeter/hello", `{"name": "http"}`)
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"message": "Hello, http"}`, body)
	code, body = httpDo(t, "POST", "http://"+addr+"/greter/hello", `{}`)
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, body, `"suggestions":["greeter"]`)
	r := stop()
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stderr, "microsim gateway: serving http://"+addr)
	require.Contains(t, r.stderr, "microsim gateway: stopped")

	r = w.run(t, "", "gateway", "--http", "256.0.0.1:99999")
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, "--http 256.0.0.1:99999")
}

// TestWebCommand serves the dashboard and reads its snapshot over HTTP.
func TestWebCommand(t *testing.T) {
	w := newWorld(t)
	addr, stop := w.serve(t, "web", "--http", "127.0.0.1:0", "--title", "shop")
	code, body := httpDo(t, "GET", "http://"+addr+"/api/services", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, 2, strings.Count(body, `"address":`), body)
	_, body = httpDo(t, "GET", "http://"+addr+"/", "")
	require.Contains(t, body, "<title>shop · dashboard</title>")
	r := stop()
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stderr, "microsim web: stopped")
}

// TestSidecarCommand serves the sidecar, reads its health and calls through it.
func TestSidecarCommand(t *testing.T) {
	w := newWorld(t)
	addr, stop := w.serve(t, "sidecar", "--http", "127.0.0.1:0", "--transport", "memory")
	code, body := httpDo(t, "GET", "http://"+addr+"/health", "")
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"status": "ok", "registrations": [], "subscriptions": []}`, body)
	_, body = httpDo(t, "POST", "http://"+addr+"/greeter/hello", `{"name": "side"}`)
	require.JSONEq(t, `{"message": "Hello, side"}`, body)
	r := stop()
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stderr, "microsim sidecar: stopped")
}
