package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/microsim/microsim/framework/describe"
	"github.com/microsim/microsim/framework/internal/lograte"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/transport"
)

// Sentinel errors.
var (
	// ErrStarted: Start was already called, or Handle/HandleFunc/Subscribe
	// was called after Start.
	ErrStarted = errors.New("server: already started")
	// ErrStopped: Start was called after Stop.
	ErrStopped = errors.New("server: stopped")
	// ErrInvalidHandler: a handler or subscriber has a signature the server
	// cannot serve, or its name is taken.
	ErrInvalidHandler = errors.New("server: invalid handler")
	// ErrNoBroker: Subscribe was called on a server built without WithBroker.
	ErrNoBroker = errors.New("server: no broker")
	// ErrAbandoned: Stop's ctx ended before every in-flight request finished.
	ErrAbandoned = errors.New("server: requests abandoned")
	// ErrCallAbandoned is the cause (context.Cause) of the cancellation
	// of a handler's ctx when Stop abandons its call. A handler that
	// returns the ctx's error gets its caller an Interrupted error saying
	// that the server stopped.
	ErrCallAbandoned = errors.New("server: call abandoned by Stop")
)

// Server serves one service's endpoints and subscriptions. It is safe for
// concurrent use.
type Server interface {
	// Handle registers every exported method of h as an endpoint
	// "Name.Method", where Name is h's type name (or HandleName). It does
	// not block. It fails, naming the type and method, when a method has
	// neither accepted signature, h is nil or has no exported method, the
	// name is taken, or the server was started.
	Handle(h any, opts ...HandleOption) error
	// HandleFunc registers fn, a unary or stream function, or a unary
	// function wrapped by Unary (the cheapest to call), as the endpoint
	// "Svc.Method". It does not block.
	HandleFunc(endpoint string, fn any) error
	// Subscribe registers fn, a func(ctx context.Context, msg *T) error, for
	// topic; the subscription is made at Start and closed at Stop. It does
	// not block. It fails without a broker (WithBroker).
	Subscribe(topic string, fn any, opts ...SubscribeOption) error
	// Start listens, registers the node, subscribes and starts serving. It
	// blocks only for the registration and subscriptions (bounded by ctx);
	// serving goes on in the background until Stop.
	Start(ctx context.Context) error
	// Stop deregisters the node (within a quarter of ctx's budget, the
	// time to its deadline), stops accepting, waits for in-flight
	// requests (until a tenth of the budget, at most 1 s, before the
	// deadline; the rest are cancelled with cause ErrCallAbandoned, have that
	// time to reply, and are counted in an error wrapping ErrAbandoned),
	// closes the subscriptions and waits for every goroutine of the
	// server (a handler that ignores its cancelled ctx delays Stop until
	// it returns; its caller sees the stream end without a reply). Stop before Start does nothing; a
	// second Stop waits for the first and returns nil. A failure to
	// deregister (for example from a crashed host) is returned too.
	Stop(ctx context.Context) error
	// Addr is the listening address after Start, "" before. It does not block.
	Addr() string
	// Node returns a copy of the registered node after Start, nil before.
	// It does not block.
	Node() *registry.Node
}

// Stream is the server side of a streaming call. Send may be called
// concurrently with Recv, but neither concurrently with itself.
type Stream interface {
	// Context is the call's context: metadata, deadline, and cancellation
	// when the server abandons the call.
	Context() context.Context
	// Send encodes msg with the call's codec and sends it. It blocks while
	// the transport applies backpressure.
	Send(msg any) error
	// Recv blocks for the client's next message and decodes it into msg (a
	// pointer). It returns io.EOF once the client half-closed.
	Recv(msg any) error
}

// Request is one call as handler wrappers see it.
type Request struct {
	// Service is the Micro-Service header: the server's name.
	Service string
	// Endpoint is "Name.Method".
	Endpoint string
	// ContentType is the request's content type.
	ContentType string
	// Header is a copy of the request's headers, reserved ones included.
	// The handler wrappers may keep it; a server with no wrappers, whose
	// Request nobody else sees, hands it back to the transport for reuse
	// once the handler has returned.
	Header map[string]string
	// Body is the decoded request (a pointer); nil for streams.
	Body any
	// Stream is the call's stream; nil for unary calls.
	Stream Stream
}

// HandlerFunc runs one call. For a unary call rsp is the response value (a
// pointer) that the server encodes when HandlerFunc returns nil; for a
// stream it is nil.
type HandlerFunc func(ctx context.Context, req *Request, rsp any) error

// HandlerWrapper is handler middleware.
type HandlerWrapper func(next HandlerFunc) HandlerFunc

// Message is one broker event as subscriber wrappers see it.
type Message struct {
	Topic       string
	ContentType string
	// Header is a copy of the event's headers.
	Header map[string]string
	// Payload is the decoded event (a pointer to the subscriber's type).
	Payload any
}

// SubscriberFunc handles one event.
type SubscriberFunc func(ctx context.Context, msg *Message) error

// SubscriberWrapper is subscriber middleware.
type SubscriberWrapper func(next SubscriberFunc) SubscriberFunc

// lifecycle states.
type state int

const (
	stateIdle state = iota
	stateRunning
	stateStopped
)

// server is the Server that New returns.
type server struct {
	// What every call reads and writes comes first, in one cache line: a
	// server of a world of many is out of the CPU's cache by its next
	// call (TestServerHotFields).
	name string
	mu   sync.Mutex
	// Request tracking, guarded by mu.
	calls       *call         // in flight: the first of a list (call.prev, call.next)
	limited     int32         // calls counted against MaxConcurrent
	maxInFlight int32         // opts.maxInFlight
	drained     chan struct{} // closed when calls becomes empty; set by Stop
	run         *running      // while state == stateRunning
	wrapped     bool          // the server has handler wrappers (opts.hWrappers)

	opts options

	tr  transport.Transport
	reg registry.Registry

	// life serialises Start and Stop; it is a channel, not a mutex, so that
	// a waiting Stop can give up with its ctx and never stalls a synctest bubble.
	life chan struct{}

	state     state
	endpoints map[string]*endpoint // by "Name.Method"; read-only after Start
	names     map[string]bool      // names given to Handle
	subs      []*subscriber

	refused atomic.Uint64 // requests refused for overload (Stats)

	logs *lograte.Limiter // rate-limits the logs of per-request failures

	// Pads a server to 384 bytes, a size class whose objects start on a
	// cache line, and so do its hot fields (TestServerHotFields).
	_ [48]byte
}

// New returns a server for the service name that listens on tr and
// registers in reg. It does not block and starts nothing. An invalid
// argument or option makes it fail with an error naming it.
func New(name string, tr transport.Transport, reg registry.Registry, opts ...Option) (Server, error) {
	if name == "" {
		return nil, errors.New("server: empty service name")
	}
	if tr == nil {
		return nil, fmt.Errorf("server %q: nil transport", name)
	}
	if reg == nil {
		return nil, fmt.Errorf("server %q: nil registry", name)
	}
	o, err := newOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("server %q: %w", name, err)
	}
	return &server{
		name:        name,
		tr:          tr,
		reg:         reg,
		opts:        o,
		maxInFlight: int32(o.maxInFlight),
		wrapped:     len(o.hWrappers) > 0,
		life:        make(chan struct{}, 1),
		endpoints:   make(map[string]*endpoint),
		names:       make(map[string]bool),
		logs:        lograte.New(lograte.DefaultInterval),
	}, nil
}

// Addr implements Server.
func (s *server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run == nil {
		return ""
	}
	return s.run.addr
}

// Node implements Server.
func (s *server) Node() *registry.Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run == nil {
		return nil
	}
	return s.run.svc.Nodes[0].Copy()
}

// lock acquires the lifecycle lock, or fails when ctx ends first. A free
// lock is taken even with a done ctx, so that Stop(expired ctx) still stops.
func (s *server) lock(ctx context.Context) error {
	select {
	case s.life <- struct{}{}:
		return nil
	default:
	}
	select {
	case s.life <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *server) unlock() { <-s.life }

// service builds the registry entry of this server's node.
func (s *server) service(addr string) *registry.Service {
	id := s.opts.id
	if id == "" {
		id = s.name + "-" + addr
	}
	svc := &registry.Service{
		Name:    s.name,
		Version: s.opts.version,
		Nodes: []*registry.Node{{
			ID:       id,
			Address:  addr,
			Metadata: s.opts.metadata, // the server's own copy, never modified
		}},
	}
	for _, name := range sortedKeys(s.endpoints) {
		svc.Endpoints = append(svc.Endpoints, s.endpoints[name].describe())
	}
	describe.Budget(svc.Endpoints)
	return svc
}

// errorf formats an error of this server.
func (s *server) errorf(format string, args ...any) error {
	return fmt.Errorf("server %q: "+format, append([]any{s.name}, args...)...)
}
