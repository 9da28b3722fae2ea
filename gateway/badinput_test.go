package gateway_test

import (
	"net/http"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/gateway"
)

func TestBadInputIsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, gateway.WithMaxBodyBytes(1024))
		for _, c := range []struct {
			method, target, body string
			hdr                  []string
			status               int
			detail               string
		}{
			{"POST", "/greeter/hello", `{"name": "ana",}`, nil, 400, "line 1, column 16"},
			{"POST", "/greeter/hello", "{\n\"name\": tru}", nil, 400, "line 2, column 12"},
			{"POST", "/greeter/hello", `{"name": "x"} {}`, nil, 400, "more than one JSON value"},
			{"POST", "/greeter/hello", `{"name": "` + strings.Repeat("x", 1100) + `"}`, nil, 413, "larger than 1024 bytes"},
			{"POST", "/greeter/hello", `{}`, []string{"Content-Type", "text/plain"}, 415, "application/json"},
			{"POST", "/greeter/hello", `{}`, []string{"Content-Type", ";;;"}, 415, "application/json"},
			{"PUT", "/greeter/hello", `{}`, nil, 405, "calls are POST"},
			{"DELETE", "/rpc", `{}`, nil, 405, "calls are POST"},
			{"POST", "/greeter/hello?timeout=soon", `{}`, nil, 400, "positive duration"},
			{"POST", "/greeter/hello", `{}`, []string{"Micro-Timeout", "-1s"}, 400, "positive duration"},
			{"POST", "/", `{}`, nil, 404, "no route"},
			{"POST", "/greeter", `{}`, nil, 404, "no route"},
			{"POST", "/a/b/c/d", `{}`, nil, 404, "no route"},
			{"POST", "/greeter/../etc/passwd", `{}`, nil, 404, "no route"},
			{"POST", "/greeter/../passwd", `{}`, nil, 400, "handler name \"..\""},
			{"POST", "/greeter/he%00llo", `{}`, nil, 400, "method name"},
			{"POST", "/gr%20eeter/hello", `{}`, nil, 400, "service name"},
			{"POST", "/greeter//hello", `{}`, nil, 400, "handler name"},
			{"POST", "/" + strings.Repeat("s", 200) + "/hello", `{}`, nil, 400, "at most 128 bytes"},
			{"POST", "/" + strings.Repeat("s/", 300), `{}`, nil, 400, "path is"},
			{"POST", "/rpc", `{"service": "greeter"`, nil, 400, "unexpected end"},
			{"POST", "/rpc", `{"service": "greeter", "endpoint": "Greeter.Hello", "extra": 1}`, nil, 400, "unknown field"},
			{"POST", "/rpc", `{"endpoint": "Greeter.Hello"}`, nil, 400, "name a service"},
			{"POST", "/rpc", `{"service": "greeter", "endpoint": "a.b.c"}`, nil, 400, "Handler.Method"},
			{"POST", "/rpc", `[1, 2]`, nil, 400, "/rpc body"},
			{"GET", "/a/b", ``, nil, 405, "GET / lists"},
		} {
			r := w.do(t, c.method, c.target, c.body, c.hdr...)
			require.Equal(t, c.status, r.status, "%s %s: %s", c.method, c.target, r.body)
			p := r.problem(t)
			require.Contains(t, p.Detail, c.detail, "%s %s", c.method, c.target)
			require.Equal(t, "microsim.gateway", p.ID)
			require.Less(t, len(r.body), 1024, "an error quotes a bounded part of the input")
			if c.status == http.StatusMethodNotAllowed {
				require.NotEmpty(t, r.header.Get("Allow"))
			}
		}
	})
}

func TestCORS(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, gateway.WithCORS("https://app.example"))
		r := w.do(t, "OPTIONS", "/greeter/hello", "", "Origin", "https://app.example",
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type, x-user, bad header")
		require.Equal(t, http.StatusNoContent, r.status)
		require.Equal(t, "https://app.example", r.header.Get("Access-Control-Allow-Origin"))
		require.Equal(t, "POST, GET", r.header.Get("Access-Control-Allow-Methods"))
		require.Equal(t, "content-type, x-user", r.header.Get("Access-Control-Allow-Headers"))
		require.Equal(t, "600", r.header.Get("Access-Control-Max-Age"))

		r = w.do(t, "POST", "/greeter/hello", `{"name": "ana"}`, "Origin", "https://app.example")
		require.Equal(t, http.StatusOK, r.status)
		require.Equal(t, "https://app.example", r.header.Get("Access-Control-Allow-Origin"))
		require.Equal(t, map[string]any{"message": "Hello, ana"}, r.json(t), "Origin is not passed on as metadata")

		r = w.do(t, "OPTIONS", "/greeter/hello", "", "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
		require.Equal(t, http.StatusMethodNotAllowed, r.status)
		require.Empty(t, r.header.Get("Access-Control-Allow-Origin"))
		r = w.do(t, "POST", "/greeter/hello", `{}`, "Origin", "https://evil.example")
		require.Equal(t, http.StatusOK, r.status, "the browser, not the gateway, enforces CORS")
		require.Empty(t, r.header.Get("Access-Control-Allow-Origin"))
	})
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t) // CORS off
		r := w.do(t, "OPTIONS", "/greeter/hello", "", "Origin", "https://app.example", "Access-Control-Request-Method", "POST")
		require.Equal(t, http.StatusMethodNotAllowed, r.status)
		require.Contains(t, r.problem(t).Detail, "CORS is not enabled")
		require.Empty(t, r.header.Get("Access-Control-Allow-Origin"))
	})
}
