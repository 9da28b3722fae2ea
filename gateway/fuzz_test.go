package gateway_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/microsim/microsim/gateway"
	"github.com/microsim/microsim/memory"
)

// FuzzRequestDecoding sends arbitrary paths, headers and bodies to a
// gateway whose registry is empty: every answer is a 4xx (or 5xx for
// nothing but an unreachable service) with a JSON error body, and nothing
// panics.
func FuzzRequestDecoding(f *testing.F) {
	for _, s := range []struct{ method, path, ct, timeout, body string }{
		{"POST", "/greeter/hello", "application/json", "", `{"name": "a"}`},
		{"POST", "/rpc", "", "1s", `{"service": "x", "endpoint": "A.B", "request": [1]}`},
		{"POST", "/a/b/c", "text/plain", "-1s", `{`},
		{"GET", "/", "", "", ``},
		{"OPTIONS", "/x/y", "", "", ``},
		{"POST", "/%00/..", "application/json; charset=utf-8", "1h", "\xff\xfe"},
	} {
		f.Add(s.method, s.path, s.ct, s.timeout, []byte(s.body))
	}
	net := memory.MustNetwork()
	defer net.Close()
	gw, err := gateway.New(net.Registry(), fakeClient{}, gateway.WithMaxBodyBytes(256))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, path, ct, timeout string, body []byte) {
		if !validMethod(method) {
			return
		}
		u := &url.URL{Path: path}
		if timeout != "" {
			u.RawQuery = url.Values{"timeout": {timeout}}.Encode()
		}
		req, err := http.NewRequest(method, "http://gw"+u.EscapedPath()+"?"+u.RawQuery, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK && method == http.MethodGet { // GET / lists the (no) services
			return
		}
		if rec.Code < 400 || rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %q: status %d: %s", method, path, rec.Code, rec.Body)
		}
		var p gateway.Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code || p.Detail == "" {
			t.Fatalf("%s %q: body %q is not a JSON error (%v)", method, path, rec.Body, err)
		}
	})
}

func validMethod(m string) bool {
	switch m {
	case "GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "HEAD":
		return true
	}
	return false
}
