package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/codec"
	ferrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/internal/resolve"
)

// Gateway is the HTTP API gateway, an http.Handler. It is safe for
// concurrent use.
type Gateway struct {
	reg  resolve.Lookup
	cli  client.Client
	opts options

	// stop ends the calls still in flight when Close's ctx ends.
	stop   context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	inflight int
	idle     chan struct{} // closed when closed and no call is in flight
}

// New returns a gateway that resolves services in reg and calls them with
// cli. The gateway does not own reg or cli: closing them is the caller's.
func New(reg registry.Registry, cli client.Client, opts ...Option) (*Gateway, error) {
	if reg == nil || cli == nil {
		return nil, fmt.Errorf("%w: New needs a registry and a client", ErrInvalidOption)
	}
	o := defaults()
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil option", ErrInvalidOption)
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.timeout > o.maxTimeout {
		o.timeout = o.maxTimeout
	}
	var lookup resolve.Lookup = reg
	if o.cache > 0 {
		lookup = resolve.NewCache(reg, o.cache)
	}
	stop, cancel := context.WithCancel(context.Background())
	return &Gateway{reg: lookup, cli: cli, opts: o, stop: stop, cancel: cancel, idle: make(chan struct{})}, nil
}

// ServeHTTP implements http.Handler. It blocks for the call it makes.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.begin() {
		w.Header().Set("Connection", "close")
		WriteProblem(w, newProblem(http.StatusServiceUnavailable, ferrors.Unavailable, "%v: shutting down", ErrClosed))
		return
	}
	defer g.end()
	if g.cors(w, r) {
		return
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		g.get(w, r)
		return
	}
	c, p := decode(r, g.opts.maxBody)
	if p != nil {
		if p.Status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", "POST")
		}
		WriteProblem(w, p)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(g.stop, cancel)()
	timeout := g.opts.timeout
	if c.timeout > 0 {
		timeout = min(c.timeout, g.opts.maxTimeout)
	}
	ctx, cancelT := context.WithTimeout(ctx, timeout)
	defer cancelT()

	t, p := g.resolve(ctx, c)
	if p != nil {
		WriteProblem(w, p)
		return
	}
	var out json.RawMessage
	err := g.cli.Call(metadata.NewContext(ctx, c.md), c.service, t.Endpoint, json.RawMessage(c.body), &out,
		client.WithCallContentType(codec.ContentTypeJSON))
	if err != nil {
		p := problem(err)
		if p.Code == ferrors.BadRequest.String() && t.Desc != nil {
			p.RequestShape = t.Desc.RequestShape
		}
		level := slog.LevelDebug // the caller's mistakes
		if p.Status >= http.StatusInternalServerError {
			level = slog.LevelWarn
		}
		g.opts.log.LogAttrs(ctx, level, "gateway: call failed",
			slog.String("service", c.service), slog.String("endpoint", t.Endpoint), slog.String("error", err.Error()))
		WriteProblem(w, p)
		return
	}
	if len(out) == 0 {
		out = json.RawMessage("null")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(out, '\n'))
}

// get answers GET / (the services) and GET /{service} (its versions,
// nodes and endpoints).
func (g *Gateway) get(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), g.opts.timeout)
	defer cancel()
	name := strings.Trim(r.URL.Path, "/")
	var v any
	switch {
	case name == "":
		svcs, err := g.reg.ListServices(ctx)
		if err != nil {
			WriteProblem(w, newProblem(http.StatusServiceUnavailable, ferrors.Unavailable, "listing services: %v", err))
			return
		}
		v = map[string]any{"services": svcs}
	case validService(name):
		svcs, err := resolve.Service(ctx, g.reg, name)
		if err != nil {
			WriteProblem(w, lookupProblem(name, err))
			return
		}
		v = map[string]any{"name": name, "versions": svcs}
	default:
		w.Header().Set("Allow", "POST")
		WriteProblem(w, newProblem(http.StatusMethodNotAllowed, ferrors.BadRequest,
			"method %s: GET / lists the services and GET /{service} describes one; calls are POST", r.Method))
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		WriteProblem(w, newProblem(http.StatusInternalServerError, ferrors.Internal, "encoding: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}

// begin counts a request in, unless the gateway is closed.
func (g *Gateway) begin() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.inflight++
	return true
}

func (g *Gateway) end() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inflight--
	if g.closed && g.inflight == 0 {
		close(g.idle)
	}
}

// Close shuts the gateway down gracefully: requests that arrive from now on
// get 503, and Close blocks until the requests in flight have finished. If
// ctx ends first, their calls are cancelled, Close waits for them to
// return and reports ctx's error. Idempotent: a second Close waits too.
func (g *Gateway) Close(ctx context.Context) error {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		if g.inflight == 0 {
			close(g.idle)
		}
	}
	g.mu.Unlock()
	select {
	case <-g.idle:
		g.cancel()
		return nil
	case <-ctx.Done():
		g.cancel()
		<-g.idle
		return fmt.Errorf("%w: calls in flight cancelled: %w", ErrClosed, ctx.Err())
	}
}

// cors applies the CORS policy; it reports whether it answered r (a
// preflight request).
func (g *Gateway) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	allowed := origin != "" && g.allowOrigin(origin)
	if allowed {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Expose-Headers", "Content-Type")
	}
	if r.Method != http.MethodOptions {
		return false
	}
	if !allowed || r.Header.Get("Access-Control-Request-Method") == "" {
		w.Header().Set("Allow", "POST, GET")
		p := newProblem(http.StatusMethodNotAllowed, ferrors.BadRequest, "method OPTIONS: not a CORS preflight from an allowed origin")
		if len(g.opts.origins) == 0 {
			p.Detail = "method OPTIONS: CORS is not enabled on this gateway"
		}
		WriteProblem(w, p)
		return true
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "POST, GET")
	h.Set("Access-Control-Allow-Headers", sanitizeHeaderList(r.Header.Get("Access-Control-Request-Headers")))
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}

func (g *Gateway) allowOrigin(origin string) bool {
	for _, o := range g.opts.origins {
		if o == "*" || o == origin {
			return true
		}
	}
	return false
}

// sanitizeHeaderList keeps the header names of a preflight's request list.
func sanitizeHeaderList(s string) string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f != "" && len(f) <= maxSegmentBytes && validService(f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return "Content-Type"
	}
	return strings.Join(out, ", ")
}
