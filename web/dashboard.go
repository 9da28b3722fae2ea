package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/client"
	ferrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/gateway"
)

// Sentinel errors.
var (
	// ErrInvalidOption: an option was given a value it cannot take.
	ErrInvalidOption = errors.New("web: invalid option")
	// ErrClosed: the dashboard was closed.
	ErrClosed = errors.New("web: closed")
)

// Option configures a Dashboard.
type Option func(*options) error

type options struct {
	sel     selector.Selector
	refresh time.Duration
	title   string
	log     *slog.Logger
	gwOpts  []gateway.Option
}

// WithSelector names the selector whose view of the nodes (requests,
// failures, latency, ejection) the page shows: the one the client uses.
func WithSelector(s selector.Selector) Option {
	return func(o *options) error {
		if s == nil {
			return fmt.Errorf("%w: WithSelector(nil)", ErrInvalidOption)
		}
		o.sel = s
		return nil
	}
}

// WithRefresh sets how often the selector's view is read again (default 2s).
func WithRefresh(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithRefresh(%v): must be positive", ErrInvalidOption, d)
		}
		o.refresh = d
		return nil
	}
}

// WithTitle sets the page's title (default "microsim").
func WithTitle(t string) Option {
	return func(o *options) error { o.title = t; return nil }
}

// WithLogger sets where the dashboard logs registry failures (default: nowhere).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("%w: WithLogger(nil)", ErrInvalidOption)
		}
		o.log = l
		return nil
	}
}

// WithGatewayOptions passes options to the gateway the form calls through.
func WithGatewayOptions(opts ...gateway.Option) Option {
	return func(o *options) error { o.gwOpts = append(o.gwOpts, opts...); return nil }
}

// Dashboard is the web dashboard, an http.Handler.
type Dashboard struct {
	reg  registry.Registry
	opts options
	gw   *gateway.Gateway
	api  http.Handler
	page *template.Template

	mu      sync.Mutex
	cur     []byte        // the current snapshot, JSON
	changed chan struct{} // closed (and replaced) when cur changes, and at Close
	closed  bool

	cancel context.CancelFunc
	wg     sync.WaitGroup
	poke   chan struct{} // a registry event: read the registry again
}

// New returns a dashboard of the services in reg, calling them with cli,
// and starts its watch of reg. reg and cli remain the caller's.
func New(reg registry.Registry, cli client.Client, opts ...Option) (*Dashboard, error) {
	if reg == nil || cli == nil {
		return nil, fmt.Errorf("%w: New needs a registry and a client", ErrInvalidOption)
	}
	o := options{refresh: 2 * time.Second, title: "microsim", log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil option", ErrInvalidOption)
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	gw, err := gateway.New(reg, cli, o.gwOpts...)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	page, err := template.New("page").Parse(pageHTML)
	if err != nil {
		return nil, fmt.Errorf("web: page template: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Dashboard{reg: reg, opts: o, gw: gw, api: http.StripPrefix("/api", latency(gw)), page: page,
		changed: make(chan struct{}), cancel: cancel, poke: make(chan struct{}, 1)}
	d.refresh(ctx)
	d.wg.Add(2)
	go d.watch(ctx)
	go d.loop(ctx)
	return d, nil
}

// ServeHTTP implements http.Handler.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		d.servePage(w, r)
	case r.URL.Path == "/events" && r.Method == http.MethodGet:
		d.serveEvents(w, r)
	case r.URL.Path == "/api/services" && r.Method == http.MethodGet:
		d.mu.Lock()
		cur := d.cur
		d.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(cur)
	case len(r.URL.Path) > len("/api/") && r.URL.Path[:len("/api/")] == "/api/":
		d.api.ServeHTTP(w, r)
	default:
		gateway.WriteProblem(w, gateway.NewProblem("microsim.web", http.StatusNotFound, ferrors.NotFound,
			fmt.Sprintf("no page %q: the dashboard is at /", clip(r.URL.Path))))
	}
}

func clip(s string) string {
	if len(s) > 64 {
		return strings.ToValidUTF8(s[:64], "") + "..."
	}
	return s
}

// pageData is what the page template renders.
type pageData struct {
	Title string
	State json.RawMessage
}

func (d *Dashboard) servePage(w http.ResponseWriter, _ *http.Request) {
	d.mu.Lock()
	cur := d.cur
	d.mu.Unlock()
	var buf bytes.Buffer
	if err := d.page.Execute(&buf, pageData{Title: d.opts.title, State: cur}); err != nil {
		http.Error(w, "web: rendering the page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Everything is inline: nothing may be loaded from elsewhere.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(buf.Bytes())
}

// serveEvents streams a snapshot now and one at every change, until the
// client leaves or the dashboard closes.
func (d *Dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "web: this server cannot stream events", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	var last []byte
	for {
		d.mu.Lock()
		cur, ch, closed := d.cur, d.changed, d.closed
		d.mu.Unlock()
		if closed {
			return
		}
		if !bytes.Equal(cur, last) {
			if _, err := fmt.Fprintf(w, "event: snapshot\ndata: %s\n\n", cur); err != nil {
				return
			}
			fl.Flush()
			last = cur
		}
		select {
		case <-ch:
		case <-keepalive.C:
			if _, err := io.WriteString(w, ": keepalive\n\n"); err != nil {
				return
			}
			fl.Flush()
		case <-r.Context().Done():
			return
		}
	}
}

// refresh reads the system again and publishes the snapshot if it changed.
func (d *Dashboard) refresh(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b, err := json.Marshal(snapshot(rctx, d.reg, d.opts.sel))
	if err != nil {
		d.opts.log.Warn("web: encoding the snapshot", "error", err)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if bytes.Equal(b, d.cur) || d.closed {
		return
	}
	d.cur = b
	close(d.changed)
	d.changed = make(chan struct{})
}

// loop refreshes after each registry event and every refresh interval.
func (d *Dashboard) loop(ctx context.Context) {
	defer d.wg.Done()
	t := time.NewTicker(d.opts.refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.poke:
		case <-t.C:
		}
		d.refresh(ctx)
	}
}

// watch turns registry events into pokes; a failed watch is taken again
// after a second.
func (d *Dashboard) watch(ctx context.Context) {
	defer d.wg.Done()
	for ctx.Err() == nil {
		w, err := d.reg.Watch(ctx)
		if err == nil {
			for {
				if _, err = w.Next(ctx); err != nil {
					break
				}
				d.pokeLoop()
			}
			w.Stop()
		}
		if ctx.Err() != nil {
			return
		}
		d.opts.log.Warn("web: registry watch failed; retrying in 1s", "error", err)
		d.pokeLoop()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (d *Dashboard) pokeLoop() {
	select {
	case d.poke <- struct{}{}:
	default: // a refresh is already due
	}
}

// Close stops the watch, ends the event streams and closes the gateway the
// form calls through (waiting for its calls in flight, up to ctx).
// Idempotent.
func (d *Dashboard) Close(ctx context.Context) error {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.changed)
	}
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
	return d.gw.Close(ctx)
}

// latency sets X-Micro-Latency on the gateway's replies.
func latency(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&timedWriter{ResponseWriter: w, start: time.Now()}, r)
	})
}

type timedWriter struct {
	http.ResponseWriter
	start time.Time
	wrote bool
}

func (t *timedWriter) WriteHeader(code int) {
	if !t.wrote {
		t.wrote = true
		// In milliseconds, ASCII only (a header is not UTF-8: no "µs").
		t.Header().Set("X-Micro-Latency", strconv.FormatFloat(float64(time.Since(t.start).Microseconds())/1000, 'f', 3, 64)+"ms")
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *timedWriter) Write(b []byte) (int, error) {
	if !t.wrote {
		t.WriteHeader(http.StatusOK)
	}
	return t.ResponseWriter.Write(b)
}
