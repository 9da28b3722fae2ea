package server

import (
	"context"
	"fmt"
	"reflect"
	"unsafe"
)

// A unary handler is called directly, not through reflect.Value.Call: a
// reflective call builds its argument frame on every call (funcLayout,
// []reflect.Value slices, a method-value trampoline) and was a measurable
// share of a request. Every accepted unary signature,
//
//	func(ctx context.Context, req *Req, rsp *Rsp) error
//
// passes its arguments exactly as func(context.Context, unsafe.Pointer,
// unsafe.Pointer) error does (pointers are pointers in every Go calling
// convention), and a method called through its pointer receiver's method
// set takes that pointer first. So each endpoint is bound once, at Handle,
// to such a function, and a call only checks the dynamic types of the
// request and response (as before) and takes their pointers.

// directFunc is a unary handler function seen through its calling convention.
type directFunc func(ctx context.Context, req, rsp unsafe.Pointer) error

// directMethod is a unary method expression of a pointer receiver seen
// through its calling convention.
type directMethod func(recv unsafe.Pointer, ctx context.Context, req, rsp unsafe.Pointer) error

// funcWord returns the function value held by fn, a reflect.Value of a
// func type, as a pointer: what a variable of any func type holds.
func funcWord(fn reflect.Value) unsafe.Pointer {
	i := fn.Interface()
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&i))[1]
}

// bindFunc returns the unary function fn (a func value whose signature
// newEndpoint accepted) as a directFunc.
func bindFunc(fn reflect.Value) directFunc {
	var f directFunc
	*(*unsafe.Pointer)(unsafe.Pointer(&f)) = funcWord(fn)
	return f
}

// bindMethod returns method name of the handler value v, whose signature
// newEndpoint accepted, as a directFunc with the receiver bound. A value
// that is not a pointer is copied once and its method called through the
// pointer to the copy: a value receiver gets a copy on every call anyway.
func bindMethod(v reflect.Value, name string) (directFunc, error) {
	recv := v
	if v.Kind() != reflect.Pointer {
		recv = reflect.New(v.Type())
		recv.Elem().Set(v)
	}
	m, ok := recv.Type().MethodByName(name)
	if !ok {
		return nil, fmt.Errorf("server: method %s not found on %v", name, recv.Type())
	}
	var call directMethod
	*(*unsafe.Pointer)(unsafe.Pointer(&call)) = funcWord(m.Func)
	p := recv.UnsafePointer()
	return func(ctx context.Context, req, rsp unsafe.Pointer) error {
		return call(p, ctx, req, rsp)
	}, nil
}

// argPointer returns the pointer held by v after checking that it is a t
// (a pointer type): a wrapper that replaced the value with one of another
// type gets an error, not a crash. A nil v is a nil pointer.
func argPointer(v any, t reflect.Type, what string) (unsafe.Pointer, error) {
	if v == nil {
		return nil, nil
	}
	if vt := reflect.TypeOf(v); vt != t {
		return nil, fmt.Errorf("server: %s is a %v, the handler takes a %v", what, vt, t)
	}
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&v))[1], nil
}

// argPair is the type of what a unary call of an endpoint allocates:
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
	p := reflect.New(e.pair).Elem()
	return p.Field(0).Addr().Interface(), p.Field(1).Addr().Interface(), (*callState)(p.Field(2).Addr().UnsafePointer())
}
