package sidecar_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/memory"
	"github.com/microsim/microsim/sidecar"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// inProcess is an http.RoundTripper that serves requests with a handler,
// without sockets (so it runs in a synctest bubble).
type inProcess struct{ h http.Handler }

func (p inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	if r.Body != nil {
		defer r.Body.Close()
	}
	p.h.ServeHTTP(rec, r)
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	return rec.Result(), nil
}

// world is a memory network with the sidecar on host side, the app reached
// through app (an in-process handler), and a Go client on host go.
type world struct {
	net *memory.Network
	sc  *sidecar.Sidecar
	cli client.Client
}

func newWorld(t *testing.T, app http.Handler, opts ...sidecar.Option) *world {
	t.Helper()
	net := memory.MustNetwork()
	t.Cleanup(func() { _ = net.Close() })
	w := &world{net: net}
	w.cli = newClient(t, net.Host("go"))
	side := net.Host("side")
	scli := newClient(t, side)
	opts = append([]sidecar.Option{sidecar.WithHTTPClient(&http.Client{Transport: inProcess{app}})}, opts...)
	sc, err := sidecar.New(side.Transport(), side.Registry(), scli, side.Broker(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sc.Close(context.Background()) })
	w.sc = sc
	return w
}

func newClient(t *testing.T, h *memory.Host) client.Client {
	t.Helper()
	sel, err := selector.New(h.Registry())
	require.NoError(t, err)
	t.Cleanup(func() { _ = sel.Close() })
	cli, err := client.New(sel, h.Transport(), client.WithBroker(h.Broker()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// post sends a JSON body to the sidecar and decodes the reply.
func (w *world) post(t *testing.T, path, body string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	w.sc.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), "POST", path, strings.NewReader(body)))
	var m map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m), "%s: %s", path, rec.Body)
	return rec.Code, m
}

func (w *world) health(t *testing.T) sidecar.Health {
	t.Helper()
	rec := httptest.NewRecorder()
	w.sc.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), "GET", "/health", nil))
	var h sidecar.Health
	require.NoError(t, json.NewDecoder(bytes.NewReader(rec.Body.Bytes())).Decode(&h))
	return h
}

// newTCPClient is a client over the TCP transport and the network's registry.
func newTCPClient(t *testing.T, tr transport.Transport, net *memory.Network) client.Client {
	t.Helper()
	sel, err := selector.New(net.Registry())
	require.NoError(t, err)
	t.Cleanup(func() { _ = sel.Close() })
	cli, err := client.New(sel, tr, client.WithBroker(net.Host("side").Broker()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// fakeClient is a client.Client that fails every call.
type fakeClient struct{ client.Client }

func (fakeClient) Call(context.Context, string, string, any, any, ...client.CallOption) error {
	return errors.New("fake client: no calls")
}

func (fakeClient) Publish(context.Context, string, any, ...client.PublishOption) error { return nil }
