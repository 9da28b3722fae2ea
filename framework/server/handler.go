package server

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/microsim/microsim/framework/describe"
	"github.com/microsim/microsim/framework/registry"
)

// acceptedSignatures is quoted by every signature error.
const acceptedSignatures = "accepted signatures: func(ctx context.Context, req *Req, rsp *Rsp) error (unary) " +
	"and func(ctx context.Context, stream server.Stream) error (stream)"

var (
	typeContext = reflect.TypeFor[context.Context]()
	typeError   = reflect.TypeFor[error]()
	typeStream  = reflect.TypeFor[Stream]()
)

// endpoint is one served method.
type endpoint struct {
	// What every call reads comes first, in one cache line (within a
	// typed caller's first, TestServerHotFields): a server of a world of
	// many is out of the CPU's cache by its next call.
	stream bool
	// h is the call through the server's wrappers; nil for a unary
	// endpoint of a server without any, which invoke calls through
	// unary.impl: one object less to read per call.
	h     HandlerFunc
	unary unaryBinding // unary: how the handler is called (direct.go)

	name string        // "Name.Method"
	fn   reflect.Value // stream: the method value or function
	// unary: the JSON shapes of the request and response (describe.Type)
	reqShape, rspShape *registry.Shape
}

// describe returns the endpoint's registry entry.
func (e *endpoint) describe() *registry.Endpoint {
	if e.stream {
		return &registry.Endpoint{Name: e.name, Metadata: map[string]string{"stream": "true"}}
	}
	return &registry.Endpoint{Name: e.name, Request: typeName(e.unary.req), Response: typeName(e.unary.rsp),
		RequestShape: e.reqShape, ResponseShape: e.rspShape}
}

// typeName is the name of the type t points to, qualified with its package
// name ("wrapperspb.StringValue"), or t's own description for unnamed types.
func typeName(t reflect.Type) string {
	if t.Kind() == reflect.Pointer && t.Elem().Name() != "" {
		t = t.Elem()
	}
	return t.String()
}

// newEndpoint checks fn's signature; what names the function in errors.
// A unary endpoint is returned without its binding (bindReflect).
func newEndpoint(name string, fn reflect.Value, what string) (*endpoint, error) {
	t := fn.Type()
	if t.Kind() != reflect.Func || t.IsVariadic() || t.NumOut() != 1 || t.Out(0) != typeError ||
		t.NumIn() < 1 || t.In(0) != typeContext {
		return nil, signatureError(what, t)
	}
	switch {
	case t.NumIn() == 2 && t.In(1) == typeStream:
		return &endpoint{name: name, fn: fn, stream: true}, nil
	case t.NumIn() == 3 && t.In(1).Kind() == reflect.Pointer && t.In(2).Kind() == reflect.Pointer:
		return unaryEndpoint(name, unaryBinding{req: t.In(1), rsp: t.In(2)}), nil
	}
	return nil, signatureError(what, t)
}

// unaryEndpoint returns the unary endpoint name bound to b.
func unaryEndpoint(name string, b unaryBinding) *endpoint {
	ep := b.ep
	if ep == nil {
		ep = new(endpoint)
	}
	b.ep = nil // the endpoint does not point at itself
	*ep = endpoint{name: name, unary: b,
		reqShape: describe.Type(b.req), rspShape: describe.Type(b.rsp)}
	return ep
}

func signatureError(what string, t reflect.Type) error {
	return fmt.Errorf("%w: %s has signature %v; %s", ErrInvalidHandler, what, t, acceptedSignatures)
}

// validName checks a handler name (the part of an endpoint before the dot).
func validName(name string) error {
	if name == "" {
		return fmt.Errorf("empty handler name")
	}
	if strings.Contains(name, ".") {
		return fmt.Errorf("handler name %q contains a dot", name)
	}
	return nil
}

// Handle implements Server.
func (s *server) Handle(h any, opts ...HandleOption) error {
	if h == nil {
		return fmt.Errorf("%w: Handle(nil): a handler is a value with exported methods; %s", ErrInvalidHandler, acceptedSignatures)
	}
	v := reflect.ValueOf(h)
	t := v.Type()
	if (t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface || t.Kind() == reflect.Map ||
		t.Kind() == reflect.Func || t.Kind() == reflect.Slice || t.Kind() == reflect.Chan) && v.IsNil() {
		return fmt.Errorf("%w: Handle: handler of type %v is nil", ErrInvalidHandler, t)
	}
	var ho handleOptions
	for _, o := range opts {
		if o == nil {
			return fmt.Errorf("%w: Handle(%v): nil option", ErrInvalidHandler, t)
		}
		if err := o(&ho); err != nil {
			return fmt.Errorf("%w: Handle(%v): %w", ErrInvalidHandler, t, err)
		}
	}
	name := ho.name
	if name == "" {
		name = t.Name()
		if t.Kind() == reflect.Pointer {
			name = t.Elem().Name()
		}
		if name == "" {
			return fmt.Errorf("%w: Handle: handler type %v has no name; use HandleName", ErrInvalidHandler, t)
		}
	}
	if t.NumMethod() == 0 {
		return fmt.Errorf("%w: Handle: handler type %v has no exported method; %s", ErrInvalidHandler, t, acceptedSignatures)
	}
	eps := make(map[string]*endpoint, t.NumMethod())
	for i := range t.NumMethod() {
		m := t.Method(i)
		what := fmt.Sprintf("method %v.%s", t, m.Name)
		ep, err := newEndpoint(name+"."+m.Name, v.Method(i), what)
		if err != nil {
			return err
		}
		if !ep.stream {
			ep.unary = bindReflect(m.Func, v, ep.unary.req, ep.unary.rsp)
		}
		eps[ep.name] = ep
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateIdle {
		return fmt.Errorf("%w: Handle(%v) after Start", ErrStarted, t)
	}
	if s.names[name] {
		return fmt.Errorf("%w: Handle(%v): handler name %q is already registered", ErrInvalidHandler, t, name)
	}
	for ep := range s.endpoints {
		if strings.HasPrefix(ep, name+".") {
			return fmt.Errorf("%w: Handle(%v): handler name %q is already used by endpoint %q", ErrInvalidHandler, t, name, ep)
		}
	}
	s.names[name] = true
	for n, ep := range eps {
		s.wrap(ep)
		s.endpoints[n] = ep
	}
	return nil
}

// HandleFunc implements Server.
func (s *server) HandleFunc(endpointName string, fn any) error {
	svc, method, ok := strings.Cut(endpointName, ".")
	if !ok || svc == "" || method == "" || strings.Contains(method, ".") {
		return fmt.Errorf("%w: HandleFunc(%q): an endpoint is named \"Svc.Method\"", ErrInvalidHandler, endpointName)
	}
	if fn == nil {
		return fmt.Errorf("%w: HandleFunc(%q): nil function; %s", ErrInvalidHandler, endpointName, acceptedSignatures)
	}
	var ep *endpoint
	if u, ok := fn.(UnaryHandler); ok {
		b, err := u.bind()
		if err != nil {
			return fmt.Errorf("%w: HandleFunc(%q): Unary: %w", ErrInvalidHandler, endpointName, err)
		}
		ep = unaryEndpoint(endpointName, b)
	} else {
		v := reflect.ValueOf(fn)
		if v.Kind() == reflect.Func && v.IsNil() {
			return fmt.Errorf("%w: HandleFunc(%q): nil function of type %v", ErrInvalidHandler, endpointName, v.Type())
		}
		var err error
		if ep, err = newEndpoint(endpointName, v, fmt.Sprintf("HandleFunc(%q) function", endpointName)); err != nil {
			return err
		}
		if !ep.stream {
			ep.unary = bindReflect(v, reflect.Value{}, ep.unary.req, ep.unary.rsp)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateIdle {
		return fmt.Errorf("%w: HandleFunc(%q) after Start", ErrStarted, endpointName)
	}
	if _, dup := s.endpoints[endpointName]; dup {
		return fmt.Errorf("%w: HandleFunc(%q): endpoint is already registered", ErrInvalidHandler, endpointName)
	}
	s.wrap(ep)
	s.endpoints[endpointName] = ep
	return nil
}

// handlerFunc is the innermost HandlerFunc: it calls the endpoint.
func (e *endpoint) handlerFunc() HandlerFunc {
	if e.stream {
		return func(ctx context.Context, req *Request, _ any) error {
			out := e.fn.Call([]reflect.Value{reflect.ValueOf(&ctx).Elem(), reflect.ValueOf(&req.Stream).Elem()})
			return asError(out[0])
		}
	}
	c := e.unary.impl
	return func(ctx context.Context, req *Request, rsp any) error {
		return c.call(ctx, req.Body, rsp)
	}
}

// argValue converts v to the subscriber's parameter type t; a wrapper that
// replaced the value with one of another type gets an error, not a panic.
func argValue(v any, t reflect.Type, what string) (reflect.Value, error) {
	if v == nil {
		return reflect.Zero(t), nil
	}
	rv := reflect.ValueOf(v)
	if rv.Type() != t {
		return reflect.Value{}, fmt.Errorf("server: %s is a %v, the handler takes a %v", what, rv.Type(), t)
	}
	return rv, nil
}

func asError(v reflect.Value) error {
	if v.IsNil() {
		return nil
	}
	return v.Interface().(error)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
