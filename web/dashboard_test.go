package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/web"
)

func get(t *testing.T, h http.Handler, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), "GET", target, nil))
	return rec
}

func TestSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		time.Sleep(10 * time.Millisecond) // the watch's first refresh
		rec := get(t, w.dash, "/api/services")
		require.Equal(t, http.StatusOK, rec.Code)
		var snap web.Snapshot
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &snap))
		require.Len(t, snap.Services, 1)
		s := snap.Services[0]
		require.Equal(t, "greeter", s.Name)
		require.Equal(t, []string{"1.0"}, s.Versions)
		require.Len(t, s.Nodes, 2)
		require.Equal(t, "a", s.Nodes[0].Zone)
		require.Equal(t, "b7", s.Nodes[0].Metadata["build"])
		require.Equal(t, "up", s.Nodes[0].Health)
		require.Len(t, s.Endpoints, 1)
		require.Equal(t, "name", s.Endpoints[0].RequestShape.Fields[0].Name)
	})
}

func TestPageIsSelfContained(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, web.WithTitle("shop <prod>"))
		rec := get(t, w.dash, "/")
		require.Equal(t, http.StatusOK, rec.Code)
		page := rec.Body.String()
		require.Contains(t, page, "<title>shop &lt;prod&gt; · dashboard</title>", "the title is escaped")
		require.Contains(t, page, `"name":"greeter"`, "the page carries the first snapshot")
		for _, external := range []string{"http://", "https://", "src=", "@import", "url("} {
			require.NotContains(t, page, external, "the page loads nothing from elsewhere")
		}
		require.Contains(t, rec.Header().Get("Content-Security-Policy"), "default-src 'none'")
		require.Less(t, len(page), 32<<10, "one small page")

		for _, path := range []string{"/nope", "/../../etc/passwd", "/events/x", "/%00", "/" + strings.Repeat("a", 10000)} {
			rec = get(t, w.dash, path)
			require.Equal(t, http.StatusNotFound, rec.Code, path)
			require.Contains(t, rec.Body.String(), `"code":"not_found"`, path)
			require.True(t, json.Valid(rec.Body.Bytes()), "%s: %s", path, rec.Body)
			require.Less(t, rec.Body.Len(), 256, "the error quotes a bounded part of the path")
		}
		rec = httptest.NewRecorder()
		w.dash.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), "POST", "/api/rpc", strings.NewReader(`{"service": `)))
		require.Equal(t, http.StatusBadRequest, rec.Code)
		require.Contains(t, rec.Body.String(), "unexpected end of input")
	})
}

// TestEventsFollowTheRegistry: the stream sends a snapshot at once, and one
// without a crashed node within the node's TTL.
func TestEventsFollowTheRegistry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		ew := newEventWriter()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			w.dash.ServeHTTP(ew, httptest.NewRequestWithContext(ctx, "GET", "/events", nil))
		}()
		first := <-ew.events
		require.Equal(t, 2, strings.Count(first, `"address":`), first)
		require.Equal(t, "text/event-stream", ew.Header().Get("Content-Type"))

		start := time.Now()
		w.net.Host("node-2").Crash()
		var last string
		for !strings.Contains(last, `"address":`) || strings.Count(last, `"address":`) != 1 {
			last = <-ew.events
		}
		took := time.Since(start)
		require.LessOrEqual(t, took, ttl, "the node disappears within its TTL")
		require.Greater(t, took, ttl/2, "not before the registry dropped it")
		require.Contains(t, last, `"id":"greeter-node-1:49152"`)

		cancel()
		<-done
	})
}

func TestCallThroughTheDashboard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		rec := httptest.NewRecorder()
		req := httptest.NewRequestWithContext(t.Context(), "POST", "/api/rpc",
			strings.NewReader(`{"service": "greeter", "endpoint": "Greeter.Hello", "request": {"name": "web"}}`))
		w.dash.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.JSONEq(t, `{"message": "Hello, web"}`, rec.Body.String())
		_, err := time.ParseDuration(rec.Header().Get("X-Micro-Latency"))
		require.NoError(t, err, "X-Micro-Latency %q", rec.Header().Get("X-Micro-Latency"))

		time.Sleep(2500 * time.Millisecond) // a refresh reads the selector's counters
		var snap web.Snapshot
		require.NoError(t, json.Unmarshal(get(t, w.dash, "/api/services").Body.Bytes(), &snap))
		calls := uint64(0)
		for _, n := range snap.Services[0].Nodes {
			calls += n.Requests
		}
		require.Equal(t, uint64(1), calls, "the selector's view: one call")
	})
}

func TestCloseEndsStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		ew := newEventWriter()
		done := make(chan struct{})
		go func() {
			defer close(done)
			w.dash.ServeHTTP(ew, httptest.NewRequestWithContext(t.Context(), "GET", "/events", nil))
		}()
		<-ew.events
		require.NoError(t, w.dash.Close(context.Background()))
		<-done
		require.NoError(t, w.dash.Close(context.Background()), "idempotent")
		rec := get(t, w.dash, "/events")
		require.Empty(t, rec.Body.String(), "a closed dashboard streams nothing")
	})
}

func TestNewRefusesBadOptions(t *testing.T) {
	_, err := web.New(nil, nil)
	require.ErrorIs(t, err, web.ErrInvalidOption)
}
