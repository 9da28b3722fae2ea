package sidecar

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	ferrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/gateway"
	"github.com/microsim/microsim/internal/jsonpos"
)

// Bounds of a registration.
const (
	maxEndpoints = 64
	maxNameBytes = 128
	// maxReply bounds an app's reply to a forwarded call.
	maxReply = 4 << 20
)

// app is one registered app service.
type app struct {
	name, version, url string
	endpoints          []string
	metadata           map[string]string
	ttl                time.Duration
	srv                server.Server
	beat               chan struct{} // a heartbeat (registering again)
	done               chan struct{} // closed when deregistered or replaced
	calls, failures    atomic.Uint64
}

// AppHealth is one registration in Health.
type AppHealth struct {
	Name      string   `json:"name"`
	Version   string   `json:"version,omitempty"`
	URL       string   `json:"url"`
	Address   string   `json:"address"`
	Endpoints []string `json:"endpoints"`
	TTL       string   `json:"ttl"`
	Calls     uint64   `json:"calls"`
	Failures  uint64   `json:"failures"`
}

func (a *app) health() AppHealth {
	return AppHealth{Name: a.name, Version: a.version, URL: a.url, Address: a.srv.Addr(), Endpoints: a.endpoints,
		TTL: a.ttl.String(), Calls: a.calls.Load(), Failures: a.failures.Load()}
}

func (a *app) same(b *app) bool {
	return a.version == b.version && a.url == b.url && slices.Equal(a.endpoints, b.endpoints) && maps.Equal(a.metadata, b.metadata) && a.ttl == b.ttl
}

// registerRequest is the body of POST /register.
type registerRequest struct {
	Name      string            `json:"name"`
	Version   string            `json:"version"`
	URL       string            `json:"url"`
	Endpoints []string          `json:"endpoints"`
	Metadata  map[string]string `json:"metadata"`
	TTL       string            `json:"ttl"`
}

const registerExample = `{"name": "py-greeter", "url": "http://127.0.0.1:9000", "endpoints": ["Greeter.Hello"], "ttl": "30s"}`

// newApp checks a registration.
func newApp(body []byte) (*app, *gateway.Problem) {
	var req registerRequest
	if p := decode(body, &req, "/register", registerExample); p != nil {
		return nil, p
	}
	bad := func(format string, args ...any) (*app, *gateway.Problem) {
		return nil, problem(http.StatusBadRequest, ferrors.BadRequest, "/register: "+format+"; send "+registerExample, args...)
	}
	if !validName(req.Name, ".-_:") {
		return bad("name %q: use letters, digits, '.', '-', '_' and ':', at most %d bytes", clip(req.Name), maxNameBytes)
	}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return bad("url %q: give the app's base URL, such as http://127.0.0.1:9000", clip(req.URL))
	}
	if len(req.Endpoints) == 0 || len(req.Endpoints) > maxEndpoints {
		return bad("give 1 to %d endpoints (%d given)", maxEndpoints, len(req.Endpoints))
	}
	for _, ep := range req.Endpoints {
		h, m, ok := strings.Cut(ep, ".")
		if !ok || !validName(h, "_") || !validName(m, "_") {
			return bad("endpoint %q: name it Handler.Method", clip(ep))
		}
	}
	ttl := 30 * time.Second
	if req.TTL != "" {
		if ttl, err = time.ParseDuration(req.TTL); err != nil || ttl < 0 {
			return bad("ttl %q: give a duration such as 30s (0: never expires)", clip(req.TTL))
		}
	}
	eps := slices.Clone(req.Endpoints)
	slices.Sort(eps)
	if len(slices.Compact(eps)) != len(req.Endpoints) {
		return bad("an endpoint is listed twice")
	}
	return &app{name: req.Name, version: req.Version, url: strings.TrimSuffix(req.URL, "/"), endpoints: eps,
		metadata: req.Metadata, ttl: ttl, beat: make(chan struct{}, 1), done: make(chan struct{})}, nil
}

func validName(s, extra string) bool {
	if s == "" || len(s) > maxNameBytes {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune(extra, r)) {
			return false
		}
	}
	return true
}

// lock takes the registration lock (a channel, so that a waiter is
// durably blocked in a synctest bubble).
func (s *Sidecar) lock(ctx context.Context) *gateway.Problem {
	select {
	case s.regLock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return problem(http.StatusServiceUnavailable, ferrors.Unavailable, "waiting for another registration: %v", ctx.Err())
	}
}

func (s *Sidecar) unlock() { <-s.regLock }

// register handles POST /register: a new registration, a heartbeat (the
// same registration again) or a replacement.
func (s *Sidecar) register(ctx context.Context, body []byte) (any, *gateway.Problem) {
	a, p := newApp(body)
	if p != nil {
		return nil, p
	}
	if p := s.lock(ctx); p != nil {
		return nil, p
	}
	defer s.unlock()
	s.mu.Lock()
	closed, old := s.closed, s.apps[a.name]
	s.mu.Unlock()
	if closed {
		return nil, problem(http.StatusServiceUnavailable, ferrors.Unavailable, "%v", ErrClosed)
	}
	if old != nil && old.same(a) {
		select {
		case old.beat <- struct{}{}:
		default:
		}
		return map[string]any{"registered": true, "heartbeat": true, "address": old.srv.Addr()}, nil
	}
	if old != nil {
		s.drop(ctx, old)
	}
	if p := s.start(ctx, a); p != nil {
		return nil, p
	}
	return map[string]any{"registered": true, "heartbeat": false, "address": a.srv.Addr()}, nil
}

// start builds, starts and records the server of a. Called with the lock.
func (s *Sidecar) start(ctx context.Context, a *app) *gateway.Problem {
	opts := []server.Option{server.WithAddress(s.opts.address)}
	if a.version != "" {
		opts = append(opts, server.WithVersion(a.version))
	}
	if len(a.metadata) > 0 {
		opts = append(opts, server.WithMetadata(a.metadata))
	}
	srv, err := server.New(a.name, s.tr, s.reg, append(opts, s.opts.serverOpts...)...)
	if err != nil {
		return problem(http.StatusBadRequest, ferrors.BadRequest, "/register: %v", err)
	}
	for _, ep := range a.endpoints {
		if err := srv.HandleFunc(ep, server.Unary(s.forward(a, ep))); err != nil {
			return problem(http.StatusBadRequest, ferrors.BadRequest, "/register: %v", err)
		}
	}
	if err := srv.Start(ctx); err != nil {
		return problem(http.StatusServiceUnavailable, ferrors.Unavailable, "/register: starting %s: %v", a.name, err)
	}
	a.srv = srv
	s.mu.Lock()
	s.apps[a.name] = a
	s.mu.Unlock()
	if a.ttl > 0 {
		s.wg.Add(1)
		go s.expire(a)
	}
	return nil
}

// drop forgets a and stops its server. Called with the lock.
func (s *Sidecar) drop(ctx context.Context, a *app) {
	s.mu.Lock()
	if s.apps[a.name] == a {
		delete(s.apps, a.name)
	}
	s.mu.Unlock()
	close(a.done)
	_ = a.srv.Stop(ctx)
}

// expire deregisters a when its TTL passes without a heartbeat.
func (s *Sidecar) expire(a *app) {
	defer s.wg.Done()
	t := time.NewTimer(a.ttl)
	defer t.Stop()
	for {
		select {
		case <-a.beat:
			t.Reset(a.ttl)
		case <-a.done:
			return
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if s.lock(ctx) == nil {
				s.mu.Lock()
				current := s.apps[a.name] == a
				s.mu.Unlock()
				if current {
					s.drop(ctx, a)
				}
				s.unlock()
			}
			cancel()
			return
		}
	}
}

// deregister handles POST /deregister.
func (s *Sidecar) deregister(ctx context.Context, body []byte) (any, *gateway.Problem) {
	var req struct {
		Name string `json:"name"`
	}
	if p := decode(body, &req, "/deregister", `{"name": "..."}`); p != nil {
		return nil, p
	}
	if p := s.lock(ctx); p != nil {
		return nil, p
	}
	defer s.unlock()
	s.mu.Lock()
	a := s.apps[req.Name]
	s.mu.Unlock()
	if a == nil {
		return nil, problem(http.StatusNotFound, ferrors.NotFound, "/deregister: %q is not registered through this sidecar", clip(req.Name))
	}
	s.drop(ctx, a)
	return map[string]any{"deregistered": true}, nil
}

// forward is the handler of endpoint ep of a: the call, as HTTP, to the app.
func (s *Sidecar) forward(a *app, ep string) func(context.Context, *json.RawMessage, *json.RawMessage) error {
	target := a.url + "/" + ep
	return func(ctx context.Context, req, rsp *json.RawMessage) error {
		a.calls.Add(1)
		err := s.post(ctx, a.name, target, *req, rsp)
		if err != nil {
			a.failures.Add(1)
		}
		return err
	}
}

// post sends body to the app and decodes its reply into rsp.
func (s *Sidecar) post(ctx context.Context, id, target string, body []byte, rsp *json.RawMessage) error {
	if len(body) == 0 {
		body = []byte("null")
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return ferrors.New(id, ferrors.Internal, "app request: %v", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	if md, ok := metadata.FromContext(ctx); ok {
		for k, v := range md {
			hreq.Header.Set(k, v)
		}
	}
	if dl, ok := ctx.Deadline(); ok {
		hreq.Header.Set("Micro-Timeout", time.Until(dl).Round(time.Millisecond).String())
	}
	res, err := s.opts.http.Do(hreq)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return ferrors.New(id, ferrors.Unavailable, "the app at %s cannot be reached: %v", target, err)
		}
		return ferrors.New(id, ferrors.Interrupted, "the app at %s: %v", target, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxReply+1))
	if err != nil {
		return ferrors.New(id, ferrors.Interrupted, "reading the app's reply: %v", err)
	}
	if len(b) > maxReply {
		return ferrors.New(id, ferrors.ResourceExhausted, "the app's reply is larger than %d bytes", maxReply)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return appError(id, res.StatusCode, b)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("null")
	}
	if err := jsonpos.Check(b); err != nil {
		return ferrors.New(id, ferrors.Internal, "the app replied with %v", err)
	}
	*rsp = b
	return nil
}

// appError is the framework error of an app's non-2xx reply.
func appError(id string, status int, body []byte) error {
	code, detail := gateway.Code(status), strings.TrimSpace(string(body))
	var e struct {
		Code   string `json:"code"`
		Detail string `json:"detail"`
	}
	if json.Unmarshal(body, &e) == nil {
		if c, err := ferrors.ParseCode(e.Code); err == nil && e.Code != "" {
			code = c
		}
		if e.Detail != "" {
			detail = e.Detail
		}
	}
	if len(detail) > 512 {
		detail = detail[:512] + "..."
	}
	if detail == "" {
		detail = fmt.Sprintf("the app answered HTTP %d", status)
	}
	return ferrors.New(id, code, "%s", detail)
}
