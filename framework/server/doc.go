// Package server serves RPC endpoints and broker subscriptions for one
// service.
//
// A Server is built with New(name, transport, registry, options...).
// Handlers are registered by reflection before Start: Handle takes a value
// whose exported methods become endpoints "Name.Method", HandleFunc takes a
// single function. Each endpoint is either unary,
//
//	func(ctx context.Context, req *Req, rsp *Rsp) error
//
// or a bidirectional stream,
//
//	func(ctx context.Context, stream server.Stream) error
//
// The registry entry of a unary endpoint names its request and response
// types and carries their JSON shapes (framework/describe: bounded to a few
// KiB per message and 16 KiB per service), so tools can build a request
// without the Go types.
//
// Subscribe registers an event handler func(ctx context.Context, msg *T) error
// for a broker topic; by default every server of a service joins the queue
// group named after the service, so each event is handled by one of them
// (SubscribeBroadcast makes every server receive every event).
//
// Start listens, registers the node in the registry with a TTL, subscribes,
// and starts serving: one goroutine runs the listener's Serve, which
// hands each stream to the server on a goroutine the transport picks (the
// one that read it, or one of a pool that outlives each request, so a busy
// server starts no goroutine per request); and it re-registers the node
// every register interval (a heartbeat), so that a node whose host
// crashed expires from the registry and a node whose registry recovered
// comes back. A timer runs the beats, on a goroutine only while one runs;
// servers that share a Heartbeater (WithHeartbeater) share its timer, and
// the beats due at one instant run on one goroutine. A registry that can
// make the renewals by itself until one would fail (registry.Standing, as
// the in-memory one does) is left to, and the beats resume when it gives
// them back. Stop drains: it
// deregisters the node (within a quarter of its ctx's budget), closes the
// listener, waits for in-flight requests (until a tenth of the budget
// before its deadline; the rest are cancelled with cause ErrCallAbandoned
// and reported as abandoned, and a handler that returns in that last tenth
// replies Interrupted, saying that the server stopped), closes the
// subscriptions and waits for every goroutine it started.
//
// The wire protocol is framework/internal/wire. Errors travel as headers
// (framework/errors.ToHeader). The server replies with an error for:
// an unknown service or endpoint (NotFound); an unknown content type, a bad
// Micro-Timeout header or an undecodable body (BadRequest); a deadline that
// had already passed when the request arrived (DeadlineExceeded, the handler
// does not run); too many requests in flight (Unavailable, "server
// overloaded": the request was not processed, so clients may retry
// elsewhere); a reply too large for the transport (ResourceExhausted); a
// handler that panicked (Internal). A handler's own *errors.Error is sent
// unchanged; a context error returned after the handler's ctx ended becomes
// DeadlineExceeded or Canceled; any other error becomes Internal with the
// error's message as detail. Errors the server produces itself carry the
// service name as ID.
//
// Every error reply, unary or streaming, also carries Micro-End: 1, so that
// it is a valid trailer for a streaming client (a unary client reads the
// error headers and ignores it): an error reply for an unknown endpoint or
// an overloaded server does not depend on what kind of call it answers. An
// overloaded server reads the request's first message (never decoding it)
// before it replies, so the client's send never meets a closed stream. A
// unary endpoint called with Micro-Stream-Open gets BadRequest. A streaming
// request without Micro-Stream-Open carries its first payload in the
// opening message. Data messages of a stream carry no headers.
//
// A handler's ctx carries the request's metadata and deadline (from
// Micro-Timeout) and is cancelled when the handler returns, when Stop
// abandons the call, and, for a unary call, with cause ErrCallerGone when
// the caller ends the stream first. It is built the first time the handler
// (or a wrapper) asks it for its Done channel or a value, so a handler that
// never does costs no context chain or timer; Deadline and Err need no
// build. A handler that waits with a ctxwake.Sleeper (internal: the
// simulator's synthetic endpoints do) is woken by the ctx's cancellation
// without building it either. The caller-gone watch is a callback of the
// socket (NotifyRecv), no goroutine. A unary endpoint
// registered with HandleFunc(name, Unary(fn)) is called through code
// typed at compile time, with no reflection per call; one registered
// reflectively (Handle, HandleFunc of a plain function) goes through
// reflect.Value.Call, two allocations and ~200 ns more per call (see
// direct.go). HandleFunc(name, UnaryPooled(fn, pool)) is Unary for a
// handler that keeps nothing of its call: the request and response
// values, the Request and the ctx come from pool, which many servers may
// share, and go back once the reply was sent, so the call allocates
// nothing of its own. HandleFunc(name, UnaryWith(h, pool)) is either of
// them for a handler that is a value with a ServeUnary method (a
// UnaryServer), which may be a pointer into a larger struct, where a
// function that captures variables is an object of its own. The reply
// goes out with its end of stream in one step (SendClose), with the
// codec table's shared header for its content type.
//
// The request is lent by the transport until the call's socket is closed
// (the package transport's ownership rule): the server decodes it with the
// codec's copying Unmarshal, so a handler may keep its request value, and
// Request.Header is the message's own map while nothing can keep the
// Request longer than the call — a copy when handler wrappers (which may
// keep it) are configured. A stopping server ends the streams of the
// calls it abandons with CloseSend, leaving each call's socket and
// request to its own goroutine.
//
// The server counts the requests in flight and those refused for overload
// (StatsReporter). It logs with the slog.Logger of WithLogger (default:
// nowhere); failures that can repeat per request (overload refusals,
// handler and subscriber panics, failing subscribers) are logged at most
// once a second each, the next record saying how many were held back.
//
// Nothing here uses package-level state; everything runs in a
// testing/synctest bubble when its transport, registry and broker do.
//
//go:generate go tool mockgen -typed -destination=servermock/servermock.go -package=servermock . Server,Stream
package server
