package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGatewayCommand serves the gateway on 127.0.0.1 port 0 in front of the
// memory world, calls it over HTTP, and stops it as a signal would.
func TestGatewayCommand(t *testing.T) {
	w := newWorld(t)
	ctx, stop := context.WithCancel(t.Context())
	addrs := make(chan string, 1)
	done := make(chan result, 1)
	go func() {
		done <- w.runCtx(ctx, t, "", func(a string) { addrs <- a }, "gateway", "--http", "127.0.0.1:0", "--grace", "2s")
	}()
	var addr string
	select {
	case addr = <-addrs:
	case r := <-done:
		t.Fatalf("gateway exited %d: %s", r.code, r.stderr)
	}
	require.True(t, strings.HasPrefix(addr, "127.0.0.1:"), addr)

	rsp, err := http.Post("http://"+addr+"/greeter/hello", "application/json", strings.NewReader(`{"name": "http"}`))
	require.NoError(t, err)
	body, _ := io.ReadAll(rsp.Body)
	rsp.Body.Close()
	require.Equal(t, http.StatusOK, rsp.StatusCode, "%s", body)
	require.JSONEq(t, `{"message": "Hello, http"}`, string(body))

	rsp, err = http.Post("http://"+addr+"/greter/hello", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	body, _ = io.ReadAll(rsp.Body)
	rsp.Body.Close()
	require.Equal(t, http.StatusNotFound, rsp.StatusCode)
	require.Contains(t, string(body), `"suggestions":["greeter"]`)

	stop()
	r := <-done
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
	ctx, stop := context.WithCancel(t.Context())
	addrs := make(chan string, 1)
	done := make(chan result, 1)
	go func() {
		done <- w.runCtx(ctx, t, "", func(a string) { addrs <- a }, "web", "--http", "127.0.0.1:0", "--title", "shop")
	}()
	var addr string
	select {
	case addr = <-addrs:
	case r := <-done:
		t.Fatalf("web exited %d: %s", r.code, r.stderr)
	}
	rsp, err := http.Get("http://" + addr + "/api/services")
	require.NoError(t, err)
	body, _ := io.ReadAll(rsp.Body)
	rsp.Body.Close()
	require.Equal(t, http.StatusOK, rsp.StatusCode)
	require.Equal(t, 2, strings.Count(string(body), `"address":`), "%s", body)
	rsp, err = http.Get("http://" + addr + "/")
	require.NoError(t, err)
	body, _ = io.ReadAll(rsp.Body)
	rsp.Body.Close()
	require.Contains(t, string(body), "<title>shop · dashboard</title>")
	http.DefaultClient.CloseIdleConnections()
	stop()
	r := <-done
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stderr, "microsim web: stopped")
}

// TestSidecarCommand serves the sidecar and reads its health over HTTP.
func TestSidecarCommand(t *testing.T) {
	w := newWorld(t)
	ctx, stop := context.WithCancel(t.Context())
	addrs := make(chan string, 1)
	done := make(chan result, 1)
	go func() {
		done <- w.runCtx(ctx, t, "", func(a string) { addrs <- a }, "sidecar", "--http", "127.0.0.1:0", "--transport", "memory")
	}()
	var addr string
	select {
	case addr = <-addrs:
	case r := <-done:
		t.Fatalf("sidecar exited %d: %s", r.code, r.stderr)
	}
	rsp, err := http.Get("http://" + addr + "/health")
	require.NoError(t, err)
	body, _ := io.ReadAll(rsp.Body)
	rsp.Body.Close()
	require.Equal(t, http.StatusOK, rsp.StatusCode)
	require.JSONEq(t, `{"status": "ok", "registrations": [], "subscriptions": []}`, string(body))
	rsp, err = http.Post("http://"+addr+"/greeter/hello", "application/json", strings.NewReader(`{"name": "side"}`))
	require.NoError(t, err)
	body, _ = io.ReadAll(rsp.Body)
	rsp.Body.Close()
	require.JSONEq(t, `{"message": "Hello, side"}`, string(body))
	http.DefaultClient.CloseIdleConnections()
	stop()
	r := <-done
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stderr, "microsim sidecar: stopped")
}
