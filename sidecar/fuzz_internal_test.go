package sidecar

import (
	"net/http"
	"testing"
)

// FuzzNewApp: any registration body is accepted with bounded fields or
// refused with a 400 that says why; nothing panics.
func FuzzNewApp(f *testing.F) {
	for _, b := range []string{
		`{"name": "py", "url": "http://127.0.0.1:9000", "endpoints": ["A.B"], "ttl": "3s"}`,
		`{"name": "", "url": "x", "endpoints": []}`, `{"endpoints": ["A.B", "A.B"]}`, `[]`, `{"ttl": "-1s"}`,
	} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, p := newApp(body)
		switch {
		case p != nil:
			if p.Status != http.StatusBadRequest || p.Detail == "" {
				t.Fatalf("%q: %+v", body, p)
			}
		case a == nil || len(a.endpoints) == 0 || len(a.endpoints) > maxEndpoints || len(a.name) > maxNameBytes || a.ttl < 0:
			t.Fatalf("%q: accepted %+v", body, a)
		}
	})
}
