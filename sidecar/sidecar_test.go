package sidecar_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	ferrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/sidecar"
)

// pyApp stands in for an app in another language: POST /Greeter.Hello
// greets (with the caller's X-User), /Greeter.Missing answers 404 with a
// JSON error, /Greeter.Broken 500 in plain text, /Greeter.Garbage bad JSON.
func pyApp() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /Greeter.Hello", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Name string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": "hi " + req.Name, "user": r.Header.Get("X-User"),
			"timeout": r.Header.Get("Micro-Timeout")})
	})
	mux.HandleFunc("POST /Greeter.Missing", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"code": "not_found", "detail": "no such user"}`)
	})
	mux.HandleFunc("POST /Greeter.Broken", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "traceback: oops", http.StatusInternalServerError)
	})
	mux.HandleFunc("POST /Greeter.Garbage", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"message": `)
	})
	return mux
}

const registration = `{"name": "py", "version": "0.1", "url": "http://app.local", "ttl": "0s",
	"endpoints": ["Greeter.Hello", "Greeter.Missing", "Greeter.Broken", "Greeter.Garbage"], "metadata": {"lang": "python"}}`

func TestRegisterAndForward(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, pyApp())
		code, rsp := w.post(t, "/register", registration)
		require.Equal(t, http.StatusOK, code, "%v", rsp)
		require.Equal(t, false, rsp["heartbeat"])

		svcs, err := w.net.Registry().GetService(t.Context(), "py")
		require.NoError(t, err)
		require.Equal(t, "0.1", svcs[0].Version)
		require.Equal(t, "python", svcs[0].Nodes[0].Metadata["lang"])
		require.Len(t, svcs[0].Endpoints, 4)

		ctx, cancel := context.WithTimeout(metadata.NewContext(t.Context(), metadata.New("X-User", "ana")), 2*time.Second)
		defer cancel()
		var out map[string]string
		require.NoError(t, w.cli.Call(ctx, "py", "Greeter.Hello", map[string]string{"name": "go"}, &out))
		require.Equal(t, "hi go", out["message"])
		require.Equal(t, "ana", out["user"], "metadata travels as headers")
		require.Equal(t, "2s", out["timeout"], "the deadline travels as Micro-Timeout")

		err = w.cli.Call(t.Context(), "py", "Greeter.Missing", map[string]string{}, &out)
		require.Equal(t, ferrors.NotFound, ferrors.CodeOf(err))
		require.Equal(t, "no such user", ferrors.FromError(err).Detail)
		err = w.cli.Call(t.Context(), "py", "Greeter.Broken", map[string]string{}, &out)
		require.Equal(t, ferrors.Internal, ferrors.CodeOf(err))
		require.Contains(t, ferrors.FromError(err).Detail, "traceback: oops")
		err = w.cli.Call(t.Context(), "py", "Greeter.Garbage", map[string]string{}, &out)
		require.Equal(t, ferrors.Internal, ferrors.CodeOf(err))
		require.Contains(t, ferrors.FromError(err).Detail, "invalid JSON")

		h := w.health(t)
		require.Len(t, h.Registrations, 1)
		require.Equal(t, uint64(4), h.Registrations[0].Calls)
		require.Equal(t, uint64(3), h.Registrations[0].Failures)

		code, rsp = w.post(t, "/register", registration)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, true, rsp["heartbeat"], "the same registration again is a heartbeat")

		code, _ = w.post(t, "/deregister", `{"name": "py"}`)
		require.Equal(t, http.StatusOK, code)
		_, err = w.net.Registry().GetService(t.Context(), "py")
		require.ErrorIs(t, err, registry.ErrNotFound)
		code, rsp = w.post(t, "/deregister", `{"name": "py"}`)
		require.Equal(t, http.StatusNotFound, code)
		require.Contains(t, rsp["detail"], "not registered")
	})
}

func TestRegistrationExpiresWithoutHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, pyApp())
		reg := `{"name": "py", "url": "http://app.local", "endpoints": ["Greeter.Hello"], "ttl": "2s"}`
		code, rsp := w.post(t, "/register", reg)
		require.Equal(t, http.StatusOK, code, "%v", rsp)
		for range 5 { // heartbeats every second keep it for 5s
			time.Sleep(time.Second)
			code, rsp := w.post(t, "/register", reg)
			require.Equal(t, true, rsp["heartbeat"], "%d %v", code, rsp)
		}
		_, err := w.net.Registry().GetService(t.Context(), "py")
		require.NoError(t, err)
		start := time.Now()
		for {
			if _, err := w.net.Registry().GetService(t.Context(), "py"); err != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		require.InDelta(t, 2*time.Second, time.Since(start), float64(150*time.Millisecond), "deregistered one TTL after the last heartbeat")
		require.Empty(t, w.health(t).Registrations)
	})
}

func TestSubscribeRetriesDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got := make(chan string, 10)
		fails := 2
		var times []time.Duration
		start := time.Now()
		app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			times = append(times, time.Since(start))
			if fails > 0 {
				fails--
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			b, _ := io.ReadAll(r.Body)
			got <- r.Header.Get("Micro-Topic") + " " + string(b)
		})
		w := newWorld(t, app, sidecar.WithRetry(5, 100*time.Millisecond))
		code, rsp := w.post(t, "/subscribe", `{"topic": "orders", "url": "http://app.local/events"}`)
		require.Equal(t, http.StatusOK, code, "%v", rsp)
		code, _ = w.post(t, "/subscribe", `{"topic": "orders", "url": "http://app.local/events"}`)
		require.Equal(t, http.StatusOK, code, "idempotent")

		start = time.Now()
		code, rsp = w.post(t, "/publish", `{"topic": "orders", "message": {"id": 7}}`)
		require.Equal(t, http.StatusOK, code, "%v", rsp)
		require.Equal(t, `orders {"id":7}`, <-got)
		require.Equal(t, []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond}, times, "backoff 100ms, then 200ms")
		synctest.Wait()
		h := w.health(t).Subscriptions[0]
		require.Equal(t, uint64(1), h.Delivered)
		require.Equal(t, uint64(3), h.Attempts)
		require.Equal(t, uint64(0), h.Failed)

		code, _ = w.post(t, "/unsubscribe", `{"topic": "orders", "url": "http://app.local/events"}`)
		require.Equal(t, http.StatusOK, code)
		require.Empty(t, w.health(t).Subscriptions)
	})
}

func TestSubscribeQueueIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release })
		w := newWorld(t, app, sidecar.WithQueueSize(2), sidecar.WithRetry(1, 0))
		code, _ := w.post(t, "/subscribe", `{"topic": "t", "url": "http://app.local/e"}`)
		require.Equal(t, http.StatusOK, code)
		for i := range 6 {
			code, _ := w.post(t, "/publish", `{"topic": "t", "message": `+string(rune('0'+i))+`}`)
			require.Equal(t, http.StatusOK, code)
			synctest.Wait()
		}
		h := w.health(t).Subscriptions[0]
		require.Equal(t, 2, h.Queued)
		require.Equal(t, uint64(3), h.Dropped, "one in delivery, two queued, three dropped")
		close(release)
		synctest.Wait()
		h = w.health(t).Subscriptions[0]
		require.Equal(t, uint64(3), h.Delivered)
		require.Equal(t, 0, h.Queued)
	})
}

func TestBadInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, pyApp())
		for _, c := range []struct {
			path, body string
			status     int
			detail     string
		}{
			{"/register", `{"name": "py",}`, 400, "line 1, column 15"},
			{"/register", `{"name": "py", "url": "http://a", "endpoints": ["A.B"], "extra": 1}`, 400, "unknown field"},
			{"/register", `{"name": "p y", "url": "http://a", "endpoints": ["A.B"]}`, 400, `name "p y"`},
			{"/register", `{"name": "py", "url": "ftp://a", "endpoints": ["A.B"]}`, 400, `url "ftp://a"`},
			{"/register", `{"name": "py", "url": "http://a", "endpoints": []}`, 400, "give 1 to 64 endpoints"},
			{"/register", `{"name": "py", "url": "http://a", "endpoints": ["nodot"]}`, 400, "name it Handler.Method"},
			{"/register", `{"name": "py", "url": "http://a", "endpoints": ["A.B", "A.B"]}`, 400, "listed twice"},
			{"/register", `{"name": "py", "url": "http://a", "endpoints": ["A.B"], "ttl": "soon"}`, 400, `ttl "soon"`},
			{"/publish", `{"topic": "a b", "message": {}}`, 400, `topic "a b"`},
			{"/publish", `[]`, 400, "/publish body"},
			{"/subscribe", `{"topic": "t", "url": "nope"}`, 400, `url "nope"`},
			{"/unsubscribe", `{"topic": "t", "url": "http://x"}`, 404, "no subscription"},
			{"/deregister", `{"name": 5}`, 400, "/deregister body"},
			{"/nope", `{}`, 404, "no route"},
			{"/py/hello", `{}`, 404, `service "py" is not registered`},
			{"/publish", `{"topic": "t", "message": "` + strings.Repeat("x", 1<<20) + `"}`, 413, "larger than 1048576 bytes"},
			{"/../../etc/passwd", `{}`, 404, "no route"},
		} {
			code, rsp := w.post(t, c.path, c.body)
			require.Equal(t, c.status, code, "%s %s: %v", c.path, c.body, rsp)
			require.Contains(t, rsp["detail"], c.detail, "%s %s", c.path, c.body)
		}
	})
}
