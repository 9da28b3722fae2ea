package sidecar_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/microsim/microsim/memory"
	"github.com/microsim/microsim/sidecar"
)

// FuzzAPI sends arbitrary bodies to the sidecar's routes (registration
// excepted: a valid one starts a server, which FuzzNewApp covers without):
// every answer is JSON, an error is a 4xx or 503 with a detail, and nothing
// panics.
func FuzzAPI(f *testing.F) {
	paths := []string{"/deregister", "/publish", "/subscribe", "/unsubscribe", "/health", "/rpc", "/svc/method", "/a/b/c/d"}
	for i, b := range []string{`{"name": "x"}`, `{"topic": "t", "message": {"a": 1}}`, `{"topic": "t", "url": "http://a/b"}`,
		`{"topic": "t", "url": "http://a/b"}`, ``, `{"service": "s", "endpoint": "A.B"}`, `{`, "\xff"} {
		f.Add(uint8(i), "POST", []byte(b))
	}
	net := memory.MustNetwork()
	defer net.Close()
	h := net.Host("side")
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	sc, err := sidecar.New(h.Transport(), h.Registry(), fakeClient{}, h.Broker(), sidecar.WithHTTPClient(&http.Client{Transport: inProcess{app}}))
	if err != nil {
		f.Fatal(err)
	}
	defer sc.Close(f.Context())
	f.Fuzz(func(t *testing.T, route uint8, method string, body []byte) {
		if method != "GET" && method != "POST" && method != "PUT" {
			return
		}
		req := httptest.NewRequest(method, "http://side"+paths[int(route)%len(paths)], bytes.NewReader(body))
		rec := httptest.NewRecorder()
		sc.ServeHTTP(rec, req)
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %d: not JSON: %q", req.URL.Path, rec.Code, rec.Body)
		}
		if rec.Code >= 300 {
			var p struct {
				Detail string `json:"detail"`
				Status int    `json:"status"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &p)
			if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable || p.Detail == "" || p.Status != rec.Code {
				t.Fatalf("%s: status %d: %s", req.URL.Path, rec.Code, rec.Body)
			}
		}
	})
}
