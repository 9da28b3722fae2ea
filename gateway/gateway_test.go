package gateway_test

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/client"
	ferrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/gateway"
	"github.com/microsim/microsim/memory"
)

func TestRoutes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		for _, target := range []string{"/greeter/hello", "/greeter/Greeter/Hello", "/greeter/greeter/hello"} {
			r := w.do(t, "POST", target, `{"name": "ana"}`)
			require.Equal(t, http.StatusOK, r.status, "%s: %s", target, r.body)
			require.Equal(t, "Hello, ana", r.json(t)["message"], target)
		}
		r := w.do(t, "POST", "/greeter/admin/hello", `{}`)
		require.Equal(t, "admin", r.json(t)["message"])
		r = w.do(t, "POST", "/greeter/reset", ``) // one handler serves it; an empty body is {}
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		require.Equal(t, "reset", r.json(t)["message"])
		r = w.do(t, "POST", "/rpc", `{"service": "greeter", "endpoint": "Greeter.Hello", "request": {"name": "bo"}}`)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		require.Equal(t, "Hello, bo", r.json(t)["message"])
		require.Equal(t, "application/json", r.header.Get("Content-Type"))
	})
}

func TestListAndDescribe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		r := w.do(t, "GET", "/", "")
		require.Equal(t, http.StatusOK, r.status)
		require.Contains(t, string(r.body), `"name":"greeter"`)
		r = w.do(t, "GET", "/greeter", "")
		require.Equal(t, http.StatusOK, r.status)
		require.Contains(t, string(r.body), `"name":"Greeter.Hello"`)
		require.Contains(t, string(r.body), `"request_shape":{"type":"object","ref":"gateway_test.HelloRequest","fields":[{"name":"name","type":"string"}`)
		r = w.do(t, "GET", "/greter", "")
		require.Equal(t, http.StatusNotFound, r.status)
		require.Equal(t, []string{"greeter"}, r.problem(t).Suggestions)
	})
}

func TestMetadataFromHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		r := w.do(t, "POST", "/greeter/hello", `{"name": "ana"}`,
			"X-User", "ana", "Trace-Id", "t-1", "Micro-Secret", "no", "Content-Type", "application/json", "Connection", "keep-alive")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		require.Equal(t, map[string]any{"X-User": "ana", "Trace-Id": "t-1"}, r.json(t)["md"],
			"headers become metadata, except reserved and transport ones")
	})
}

func TestDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, gateway.WithTimeout(3*time.Second), gateway.WithMaxTimeout(5*time.Second))
		for _, c := range []struct {
			target string
			hdr    []string
			sleep  string
			want   time.Duration
			status int
		}{
			{"/greeter/hello?timeout=500ms", nil, "2s", 500 * time.Millisecond, http.StatusGatewayTimeout},
			{"/greeter/hello", []string{"Micro-Timeout", "250ms"}, "2s", 250 * time.Millisecond, http.StatusGatewayTimeout},
			{"/greeter/hello", nil, "10s", 3 * time.Second, http.StatusGatewayTimeout},            // the default
			{"/greeter/hello?timeout=1h", nil, "10s", 5 * time.Second, http.StatusGatewayTimeout}, // capped
			{"/greeter/hello?timeout=3s", nil, "1s", time.Second, http.StatusOK},                  // in time
		} {
			start := time.Now()
			r := w.do(t, "POST", c.target, `{"sleep": "`+c.sleep+`"}`, c.hdr...)
			took := time.Since(start)
			require.Equal(t, c.status, r.status, "%s %v: %s", c.target, c.hdr, r.body)
			require.InDelta(t, c.want, took, float64(20*time.Millisecond), "%s %v took %v", c.target, c.hdr, took)
			if c.status != http.StatusOK {
				require.Equal(t, "deadline_exceeded", r.problem(t).Code)
			}
		}
	})
}

func TestErrorCodesMapToStatuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		want := map[string]int{
			"bad_request": 400, "unauthorized": 401, "forbidden": 403, "not_found": 404, "conflict": 409,
			"resource_exhausted": 429, "internal": 500, "unknown": 500, "not_implemented": 501,
			"interrupted": 502, "unavailable": 503, "deadline_exceeded": 504,
		}
		for code, status := range want {
			r := w.do(t, "POST", "/greeter/hello", `{"fail": "`+code+`"}`)
			require.Equal(t, status, r.status, "%s: %s", code, r.body)
			p := r.problem(t)
			require.Equal(t, code, p.Code)
			require.Equal(t, "greeter", p.ID)
			require.Equal(t, "asked to fail", p.Detail)
		}
		for c := ferrors.Code(0); c <= ferrors.ResourceExhausted; c++ {
			require.GreaterOrEqual(t, gateway.Status(c), 400, c.String())
		}
		require.Equal(t, 499, gateway.Status(ferrors.Canceled))
	})
}

func TestNotFoundSaysWhatExists(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		r := w.do(t, "POST", "/greter/hello", `{}`)
		require.Equal(t, http.StatusNotFound, r.status)
		p := r.problem(t)
		require.Equal(t, "not_found", p.Code)
		require.Equal(t, []string{"greeter"}, p.Suggestions)
		require.Contains(t, p.Detail, `service "greter" is not registered`)

		r = w.do(t, "POST", "/greeter/helo", `{}`)
		require.Equal(t, http.StatusNotFound, r.status)
		p = r.problem(t)
		require.Equal(t, []string{"Admin.Hello", "Admin.Reset", "Greeter.Hello"}, p.Endpoints)

		r = w.do(t, "POST", "/rpc", `{"service": "greeter", "endpoint": "Nope.Hello"}`)
		require.Equal(t, http.StatusNotFound, r.status)
	})
}

func TestBadRequestCarriesTheShape(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		r := w.do(t, "POST", "/greeter/hello", `{"name": 5}`) // valid JSON, wrong type
		require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		p := r.problem(t)
		require.Equal(t, "bad_request", p.Code)
		require.NotNil(t, p.RequestShape)
		require.Equal(t, "gateway_test.HelloRequest", p.RequestShape.Ref)
		require.Equal(t, "name", p.RequestShape.Fields[0].Name)
	})
}

func TestUnavailableNode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		w.net.Host("node-1").Crash() // its registration lives until its TTL
		r := w.do(t, "POST", "/greeter/hello?timeout=2s", `{}`)
		require.Equal(t, http.StatusServiceUnavailable, r.status, "a refused dial is unavailable: %s", r.body)
	})
}

func TestNewRefusesBadOptions(t *testing.T) {
	net := memory.MustNetwork()
	defer net.Close()
	_, err := gateway.New(nil, nil)
	require.ErrorIs(t, err, gateway.ErrInvalidOption)
	var cli client.Client = nil
	_, err = gateway.New(net.Registry(), cli)
	require.ErrorIs(t, err, gateway.ErrInvalidOption)
	for _, o := range []gateway.Option{gateway.WithTimeout(0), gateway.WithMaxTimeout(-1), gateway.WithMaxBodyBytes(0),
		gateway.WithCORS(), gateway.WithCORS(""), gateway.WithLogger(nil), gateway.WithLookupCache(-1), nil} {
		_, err := gateway.New(net.Registry(), fakeClient{}, o)
		require.ErrorIs(t, err, gateway.ErrInvalidOption)
	}
}

// fakeClient is a client.Client that is never called.
type fakeClient struct{ client.Client }

func TestCodeInvertsStatus(t *testing.T) {
	for c := ferrors.BadRequest; c <= ferrors.ResourceExhausted; c++ {
		if c == ferrors.Internal {
			continue
		}
		require.Equal(t, c, gateway.Code(gateway.Status(c)), c.String())
	}
	require.Equal(t, ferrors.Internal, gateway.Code(500))
	require.Equal(t, ferrors.Internal, gateway.Code(418))
}
