package server

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/microsim/microsim/internal/poison"
)

// A unary endpoint is called in one of two ways.
//
// Registered through Unary (HandleFunc(name, Unary(fn))), its request and
// response types are known at compile time: a call asserts the request and
// response to *Req and *Rsp and calls fn, and the request, response and
// call state are allocated together by a plain new. No reflection runs per
// call.
//
// Registered reflectively (Handle's methods, HandleFunc of a plain func
// value), the types are known only at run time, and the only safe way to
// call such a function is reflect.Value.Call. That call allocates its
// result slice and a copy of the returned error on every call (Go 1.26's
// reflect.Value.call) and builds its frame from the function's layout: two
// allocations and ~200 ns more than a Unary endpoint. The arguments' Values
// and the slot holding ctx come from a pool of the endpoint, so that they
// add nothing.

// UnaryHandler is a unary endpoint function bound to its request and
// response types at compile time; Unary makes one and HandleFunc takes it.
type UnaryHandler interface {
	// bind returns the endpoint's types and typed call.
	bind() (unaryBinding, error)
}

// unaryBinding is what a unary endpoint calls, however registered.
type unaryBinding struct {
	impl     unaryCaller
	req, rsp reflect.Type // the request and response pointer types
	// ep, when not nil, is the memory of the endpoint, part of impl
	// (typedCaller); else the endpoint is made apart.
	ep *endpoint
}

// unaryCaller calls a unary handler and makes its arguments. It is one
// object for both, which a call reads once: in a world of many servers,
// each endpoint's is out of the CPU's cache by its next call.
type unaryCaller interface {
	// call checks req and rsp's dynamic types (nil is a nil pointer) and
	// calls the handler.
	call(ctx context.Context, req, rsp any) error
	// args returns a new request and response value (pointers) and the
	// call's state, in one allocation (or from an ArgPool).
	args() (req, rsp any, st *callState)
}

// Unary returns fn, a unary endpoint function, for HandleFunc:
//
//	srv.HandleFunc("Greeter.Hello", server.Unary(g.Hello))
//
// serves g.Hello as HandleFunc("Greeter.Hello", g.Hello) does, but calls
// it without reflection: the cheapest way to serve an endpoint. Handle and
// HandleFunc of a plain function call through reflect.Value.Call instead
// (see direct.go).
func Unary[Req, Rsp any](fn func(ctx context.Context, req *Req, rsp *Rsp) error) UnaryHandler {
	return serverFunc[Req, Rsp]{h: unaryFunc[Req, Rsp](fn)}
}

// unaryFunc is a unary function of known types (Unary).
type unaryFunc[Req, Rsp any] func(ctx context.Context, req *Req, rsp *Rsp) error

// ServeUnary calls f: a unaryFunc is a UnaryServer.
func (f unaryFunc[Req, Rsp]) ServeUnary(ctx context.Context, req *Req, rsp *Rsp) error {
	return f(ctx, req, rsp)
}

// UnaryServer is a unary endpoint's handler as a value with a method,
// for UnaryWith.
type UnaryServer[Req, Rsp any] interface {
	ServeUnary(ctx context.Context, req *Req, rsp *Rsp) error
}

// UnaryWith is Unary (pool nil) or UnaryPooled (under its rules) for a
// handler that is a value with a ServeUnary method rather than a
// function. The value may be a pointer into a larger struct: a call then
// reads no object of the handler's own, where a function that captures
// variables is an object of its own (a closure). In a world of many
// servers that is one cache line less to fetch a call; the simulator's
// instances serve their synthetic endpoints so, each from a field of the
// instance. A nil h makes HandleFunc fail.
func UnaryWith[Req, Rsp any](h UnaryServer[Req, Rsp], pool *ArgPool[Req, Rsp]) UnaryHandler {
	return serverFunc[Req, Rsp]{h: h, pool: pool}
}

// serverFunc is the handler of Unary, UnaryWith and UnaryPooled (pooled:
// a pool is required).
type serverFunc[Req, Rsp any] struct {
	h      UnaryServer[Req, Rsp]
	pool   *ArgPool[Req, Rsp]
	pooled bool
}

func (f serverFunc[Req, Rsp]) bind() (unaryBinding, error) {
	if fn, ok := f.h.(unaryFunc[Req, Rsp]); ok && fn == nil {
		return unaryBinding{}, fmt.Errorf("nil function")
	}
	if f.h == nil {
		return unaryBinding{}, fmt.Errorf("nil UnaryServer")
	}
	if f.pooled && f.pool == nil {
		return unaryBinding{}, fmt.Errorf("nil ArgPool")
	}
	return newTypedCaller(f.h, f.pool).binding(), nil
}

// typedArgs is what a call of a Unary endpoint allocates (or, of a
// UnaryPooled one, takes from its ArgPool).
type typedArgs[Req, Rsp any] struct {
	req  Req
	rsp  Rsp
	call callState
}

// ArgPool keeps the arguments of the calls of UnaryPooled endpoints (the
// request and response values, the Request and the handler's ctx) once
// the calls ended, for later calls. One pool may serve the endpoints of
// many servers, of its request and response types: a call then takes what
// the last call to end left, wherever that ran, which is still in the
// CPU's cache. A simulated world of a thousand servers shares one. The
// zero value is ready to use; an ArgPool must not be copied once used.
type ArgPool[Req, Rsp any] struct{ p sync.Pool }

// UnaryPooled is Unary for a handler that keeps nothing: a call takes its
// request and response values, its Request and its ctx from pool, zeroed,
// and gives them back once it has ended (the handler returned and the
// reply was sent). A call then allocates nothing of its own.
//
// fn, the server's handler wrappers and whatever they start must keep none
// of req, rsp, the Request and ctx once fn has returned, nor any context
// derived from ctx: a later call reuses them. The simulator serves its
// synthetic endpoints that call nothing downstream this way. Built with
// the microsim_poison tag (package internal/poison), nothing is reused: a
// call's arguments are zeroed when it ends and left to the GC, so that a
// handler that kept them finds zero values.
//
// A nil pool makes HandleFunc fail.
func UnaryPooled[Req, Rsp any](fn func(ctx context.Context, req *Req, rsp *Rsp) error, pool *ArgPool[Req, Rsp]) UnaryHandler {
	return serverFunc[Req, Rsp]{h: unaryFunc[Req, Rsp](fn), pool: pool, pooled: true}
}

func (c *typedCaller[Req, Rsp]) args() (req, rsp any, st *callState) {
	pool := c.pool
	if pool == nil {
		a := new(typedArgs[Req, Rsp])
		return &a.req, &a.rsp, &a.call
	}
	a, _ := pool.p.Get().(*typedArgs[Req, Rsp])
	if a == nil {
		a = new(typedArgs[Req, Rsp])
		// Made once per set of arguments, kept by reset.
		a.call.free = func() {
			a.reset()
			if !poison.On {
				pool.p.Put(a)
			}
		}
	}
	return &a.req, &a.rsp, &a.call
}

// reset zeroes a, but for what its call state keeps across calls.
func (a *typedArgs[Req, Rsp]) reset() {
	free, gone := a.call.free, a.call.h.goneFn
	*a = typedArgs[Req, Rsp]{}
	a.call.free, a.call.h.goneFn = free, gone
}

// typedCaller calls a UnaryServer (a unaryFunc, or UnaryWith's), with
// arguments from its pool (UnaryPooled) or new ones (Unary). Its endpoint
// is part of it: what a call reads of both (the handler, the pool, and
// the endpoint's kind, wrapped handler and caller) is the first cache line
// of the typedCaller, which is 192 bytes, a size class whose objects start
// on one (TestServerHotFields). In a world of many servers, each endpoint
// is out of the CPU's cache by its next call, and an endpoint and a caller
// apart were two lines to fetch.
type typedCaller[Req, Rsp any] struct {
	h          UnaryServer[Req, Rsp]
	pool       *ArgPool[Req, Rsp] // nil: a call's arguments are new
	ep         endpoint           // the endpoint that calls it (binding)
	reqT, rspT reflect.Type
	_          [8]byte // pads it to 192 bytes
}

func newTypedCaller[Req, Rsp any](h UnaryServer[Req, Rsp], pool *ArgPool[Req, Rsp]) *typedCaller[Req, Rsp] {
	return &typedCaller[Req, Rsp]{h: h, pool: pool, reqT: reflect.TypeFor[*Req](), rspT: reflect.TypeFor[*Rsp]()}
}

// binding returns the caller's binding, whose endpoint is the caller's.
func (c *typedCaller[Req, Rsp]) binding() unaryBinding {
	return unaryBinding{impl: c, req: c.reqT, rsp: c.rspT, ep: &c.ep}
}

func (c *typedCaller[Req, Rsp]) call(ctx context.Context, req, rsp any) error {
	in, ok := req.(*Req)
	if !ok && req != nil {
		return argError("request", req, c.reqT)
	}
	out, ok := rsp.(*Rsp)
	if !ok && rsp != nil {
		return argError("response", rsp, c.rspT)
	}
	return c.h.ServeUnary(ctx, in, out)
}

// argError reports an argument of the wrong type: a wrapper that replaced
// the request or response with a value of another type gets an error, not
// a crash.
func argError(what string, v any, t reflect.Type) error {
	return fmt.Errorf("server: %s is a %v, the handler takes a %v", what, reflect.TypeOf(v), t)
}

// reflectArgs is a reflective call's arguments: the receiver (methods),
// ctx, the request and the response, and the slot ctx's Value points to.
type reflectArgs struct {
	ctx context.Context
	in  [4]reflect.Value
}

// reflectUnary calls a unary function of types known only at run time.
type reflectUnary struct {
	fn       reflect.Value // the function, or the method's func (receiver first)
	recv     reflect.Value // the receiver of a method; invalid for a function
	req, rsp reflect.Type
	pair     reflect.Type // argPair(req, rsp)
	pool     sync.Pool    // *reflectArgs
}

// bindReflect returns the unary binding of fn, a function whose signature
// newEndpoint accepted (recv invalid), or of a method's func taking recv
// first.
func bindReflect(fn, recv reflect.Value, req, rsp reflect.Type) unaryBinding {
	r := &reflectUnary{fn: fn, recv: recv, req: req, rsp: rsp, pair: argPair(req, rsp)}
	return unaryBinding{impl: r, req: req, rsp: rsp}
}

func (r *reflectUnary) args() (req, rsp any, st *callState) {
	p := reflect.New(r.pair).Elem()
	return p.Field(0).Addr().Interface(), p.Field(1).Addr().Interface(), p.Field(2).Addr().Interface().(*callState)
}

func (r *reflectUnary) call(ctx context.Context, req, rsp any) error {
	in, err := argValue(req, r.req, "request")
	if err != nil {
		return err
	}
	out, err := argValue(rsp, r.rsp, "response")
	if err != nil {
		return err
	}
	a, _ := r.pool.Get().(*reflectArgs)
	if a == nil {
		a = &reflectArgs{}
	}
	a.ctx = ctx
	args := a.in[:0]
	if r.recv.IsValid() {
		args = append(args, r.recv)
	}
	args = append(args, reflect.ValueOf(&a.ctx).Elem(), in, out)
	res := r.fn.Call(args)
	a.ctx, a.in = nil, [4]reflect.Value{}
	r.pool.Put(a)
	return asError(res[0])
}

// argPair is the type of what a reflective unary call allocates:
// struct{ Req T; Rsp U; Call callState } for req *T and rsp *U, so that the
// request and response values, the Request and the handler's ctx take one
// allocation per call instead of two. Each pointer into it keeps it all
// alive.
func argPair(req, rsp reflect.Type) reflect.Type {
	return reflect.StructOf([]reflect.StructField{
		{Name: "Req", Type: req.Elem()},
		{Name: "Rsp", Type: rsp.Elem()},
		{Name: "Call", Type: reflect.TypeFor[callState]()},
	})
}

// newArgs returns a new request and response value (pointers) for ep, and
// the call's state, in one allocation.
func (e *endpoint) newArgs() (req, rsp any, st *callState) {
	return e.unary.impl.args()
}
