package sidecar

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/codec"
	ferrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/gateway"
	"github.com/microsim/microsim/internal/jsonpos"
)

// Sentinel errors.
var (
	// ErrInvalidOption: an option was given a value it cannot take.
	ErrInvalidOption = errors.New("sidecar: invalid option")
	// ErrClosed: the sidecar was closed.
	ErrClosed = errors.New("sidecar: closed")
)

// errorID is the ID of the errors the sidecar produces itself.
const errorID = "microsim.sidecar"

// maxBody bounds the sidecar's own requests (register, publish, ...).
const maxBody = 1 << 20

// Option configures a Sidecar.
type Option func(*options) error

type options struct {
	address    string
	http       *http.Client
	queueSize  int
	attempts   int
	backoff    time.Duration
	serverOpts []server.Option
}

// WithAddress sets the address the app services' servers listen on
// (default "": the transport picks; for TCP give "127.0.0.1:0").
func WithAddress(addr string) Option {
	return func(o *options) error { o.address = addr; return nil }
}

// WithHTTPClient sets the client that forwards calls and delivers events to
// the app (default: a new http.Client; the per-call deadline bounds each
// request).
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) error {
		if c == nil {
			return fmt.Errorf("%w: WithHTTPClient(nil)", ErrInvalidOption)
		}
		o.http = c
		return nil
	}
}

// WithQueueSize bounds the events waiting for delivery per subscription
// (default 1024).
func WithQueueSize(n int) Option {
	return func(o *options) error {
		if n <= 0 {
			return fmt.Errorf("%w: WithQueueSize(%d): must be positive", ErrInvalidOption, n)
		}
		o.queueSize = n
		return nil
	}
}

// WithRetry sets how many times a delivery is attempted (default 5) and
// the backoff before the second attempt (default 100ms, doubling).
func WithRetry(attempts int, backoff time.Duration) Option {
	return func(o *options) error {
		if attempts <= 0 || backoff < 0 {
			return fmt.Errorf("%w: WithRetry(%d, %v): attempts must be positive, backoff not negative", ErrInvalidOption, attempts, backoff)
		}
		o.attempts, o.backoff = attempts, backoff
		return nil
	}
}

// WithServerOptions passes options to the servers of the app services
// (register interval, TTL, ...).
func WithServerOptions(opts ...server.Option) Option {
	return func(o *options) error { o.serverOpts = append(o.serverOpts, opts...); return nil }
}

// Sidecar is the HTTP sidecar, an http.Handler. It is safe for concurrent use.
type Sidecar struct {
	tr   transport.Transport
	reg  registry.Registry
	cli  client.Client
	brk  broker.Broker
	opts options
	gw   *gateway.Gateway

	mu     sync.Mutex
	closed bool
	apps   map[string]*app // by service name
	subs   map[string]*sub // by topic + " " + url
	wg     sync.WaitGroup  // deliveries and app expiries
	stop   chan struct{}   // closed by Close
	// regLock serializes registrations (a channel: see lock).
	regLock chan struct{}
}

// New returns a sidecar whose app services serve on tr and register in reg,
// which calls with cli and publishes and subscribes through b. The
// collaborators remain the caller's.
func New(tr transport.Transport, reg registry.Registry, cli client.Client, b broker.Broker, opts ...Option) (*Sidecar, error) {
	if tr == nil || reg == nil || cli == nil || b == nil {
		return nil, fmt.Errorf("%w: New needs a transport, a registry, a client and a broker", ErrInvalidOption)
	}
	o := options{queueSize: 1024, attempts: 5, backoff: 100 * time.Millisecond}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil option", ErrInvalidOption)
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.http == nil {
		o.http = &http.Client{}
	}
	gw, err := gateway.New(reg, cli)
	if err != nil {
		return nil, err
	}
	return &Sidecar{tr: tr, reg: reg, cli: cli, brk: b, opts: o, gw: gw,
		apps: map[string]*app{}, subs: map[string]*sub{}, stop: make(chan struct{}), regLock: make(chan struct{}, 1)}, nil
}

// ServeHTTP implements http.Handler.
func (s *Sidecar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var handle func(context.Context, []byte) (any, *gateway.Problem)
	switch r.URL.Path {
	case "/register":
		handle = s.register
	case "/deregister":
		handle = s.deregister
	case "/publish":
		handle = s.publish
	case "/subscribe":
		handle = s.subscribe
	case "/unsubscribe":
		handle = s.unsubscribe
	case "/health":
		if r.Method != http.MethodGet {
			methodNotAllowed(w, "GET")
			return
		}
		reply(w, s.Health())
		return
	default:
		s.gw.ServeHTTP(w, r) // calls: /rpc, /{service}/{method}, ...
		return
	}
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	switch {
	case err != nil:
		fail(w, http.StatusBadRequest, ferrors.BadRequest, "reading the body: %v", err)
		return
	case len(body) > maxBody:
		fail(w, http.StatusRequestEntityTooLarge, ferrors.ResourceExhausted, "body is larger than %d bytes", maxBody)
		return
	}
	if err := jsonpos.Check(body); err != nil {
		fail(w, http.StatusBadRequest, ferrors.BadRequest, "%s body: %v", r.URL.Path, err)
		return
	}
	v, p := handle(r.Context(), body)
	if p != nil {
		gateway.WriteProblem(w, p)
		return
	}
	reply(w, v)
}

// decode reads body into v, refusing unknown fields; what names the route.
func decode(body []byte, v any, what, example string) *gateway.Problem {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return problem(http.StatusBadRequest, ferrors.BadRequest, "%s body: %v; send %s", what, err, example)
	}
	return nil
}

func problem(status int, code ferrors.Code, format string, args ...any) *gateway.Problem {
	return gateway.NewProblem(errorID, status, code, fmt.Sprintf(format, args...))
}

func fail(w http.ResponseWriter, status int, code ferrors.Code, format string, args ...any) {
	gateway.WriteProblem(w, problem(status, code, format, args...))
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	fail(w, http.StatusMethodNotAllowed, ferrors.BadRequest, "use %s", allow)
}

func reply(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fail(w, http.StatusInternalServerError, ferrors.Internal, "encoding the reply: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}

// publish handles POST /publish.
func (s *Sidecar) publish(ctx context.Context, body []byte) (any, *gateway.Problem) {
	var req struct {
		Topic   string          `json:"topic"`
		Message json.RawMessage `json:"message"`
	}
	if p := decode(body, &req, "/publish", `{"topic": "...", "message": {...}}`); p != nil {
		return nil, p
	}
	if p := checkTopic(req.Topic); p != nil {
		return nil, p
	}
	if len(req.Message) == 0 {
		req.Message = json.RawMessage("null")
	}
	if err := s.cli.Publish(ctx, req.Topic, req.Message, client.WithPublishContentType(codec.ContentTypeJSON)); err != nil {
		e := ferrors.FromError(err)
		return nil, gateway.NewProblem(e.ID, gateway.Status(e.Code), e.Code, e.Detail)
	}
	return map[string]any{"published": true, "topic": req.Topic}, nil
}

func checkTopic(t string) *gateway.Problem {
	if t == "" || len(t) > 256 || bytes.ContainsAny([]byte(t), " \t\r\n*>") {
		return problem(http.StatusBadRequest, ferrors.BadRequest, "topic %q: use letters, digits, '.', '-' and '_', at most 256 bytes", clip(t))
	}
	return nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Health is the sidecar's state: its registrations and subscriptions.
type Health struct {
	Status        string               `json:"status"`
	Registrations []AppHealth          `json:"registrations"`
	Subscriptions []SubscriptionHealth `json:"subscriptions"`
}

// Health reports the sidecar's registrations and subscriptions. It does not block.
func (s *Sidecar) Health() Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := Health{Status: "ok", Registrations: []AppHealth{}, Subscriptions: []SubscriptionHealth{}}
	if s.closed {
		h.Status = "closed"
	}
	for _, a := range s.apps {
		h.Registrations = append(h.Registrations, a.health())
	}
	for _, sb := range s.subs {
		h.Subscriptions = append(h.Subscriptions, sb.health())
	}
	sort.Slice(h.Registrations, func(i, j int) bool { return h.Registrations[i].Name < h.Registrations[j].Name })
	sort.Slice(h.Subscriptions, func(i, j int) bool {
		return h.Subscriptions[i].Topic+h.Subscriptions[i].URL < h.Subscriptions[j].Topic+h.Subscriptions[j].URL
	})
	return h
}

// Close deregisters every app service, ends every subscription, waits for
// the deliveries in progress and closes the gateway (waiting for its calls,
// up to ctx). Idempotent.
func (s *Sidecar) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	close(s.stop)
	apps, subs := s.apps, s.subs
	s.apps, s.subs = map[string]*app{}, map[string]*sub{}
	s.mu.Unlock()
	var errs []error
	for _, a := range apps {
		errs = append(errs, a.srv.Stop(ctx))
	}
	for _, sb := range subs {
		errs = append(errs, sb.close())
	}
	s.wg.Wait()
	errs = append(errs, s.gw.Close(ctx))
	return errors.Join(errs...)
}
