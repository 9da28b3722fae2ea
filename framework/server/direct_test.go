package server

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/internal/poison"
)

type directReq struct{ N int }
type directRsp struct{ N int }

type ctxKey struct{}

// valueHandler has a value receiver with state.
type valueHandler struct {
	add  int
	name string
}

func (h valueHandler) Add(ctx context.Context, req *directReq, rsp *directRsp) error {
	if req == nil {
		return errors.New("nil request " + h.name)
	}
	rsp.N = req.N + h.add + ctx.Value(ctxKey{}).(int)
	return nil
}

type pointerHandler struct{ calls int }

func (h *pointerHandler) Count(_ context.Context, req *directReq, rsp *directRsp) error {
	h.calls++
	rsp.N = req.N * h.calls
	return nil
}

// zeroHandler has a zero-size value receiver.
type zeroHandler struct{}

func (zeroHandler) Neg(_ context.Context, req *directReq, rsp *directRsp) error {
	rsp.N = -req.N
	return nil
}

// bindMethod binds method name of h as Handle does.
func bindMethod(t testing.TB, h any, name string) unaryBinding {
	t.Helper()
	v := reflect.ValueOf(h)
	m, ok := v.Type().MethodByName(name)
	require.True(t, ok)
	ep, err := newEndpoint("H."+name, v.Method(m.Index), name)
	require.NoError(t, err)
	return bindReflect(m.Func, v, ep.unary.req, ep.unary.rsp)
}

// bindFunc binds fn as HandleFunc does.
func bindFunc(t testing.TB, fn any) unaryBinding {
	t.Helper()
	if u, ok := fn.(UnaryHandler); ok {
		b, err := u.bind()
		require.NoError(t, err)
		return b
	}
	v := reflect.ValueOf(fn)
	ep, err := newEndpoint("H.F", v, "fn")
	require.NoError(t, err)
	return bindReflect(v, reflect.Value{}, ep.unary.req, ep.unary.rsp)
}

func callBinding(t *testing.T, b unaryBinding, ctx context.Context, req *directReq) (*directRsp, error) {
	t.Helper()
	rsp := &directRsp{}
	var in any
	if req != nil {
		in = req
	}
	err := b.impl.call(ctx, in, rsp)
	return rsp, err
}

// Both bindings, reflective and Unary, of every kind of receiver and of
// closures, call the handler with its receiver, ctx and arguments.
func TestUnaryBindings(t *testing.T) {
	ctx := context.WithValue(context.Background(), ctxKey{}, 1000)
	for _, typed := range []bool{false, true} {
		name := map[bool]string{false: "reflect", true: "Unary"}[typed]
		t.Run(name, func(t *testing.T) {
			method := func(h any, m string) unaryBinding {
				if !typed {
					return bindMethod(t, h, m)
				}
				f := reflect.ValueOf(h).MethodByName(m).Interface().(func(context.Context, *directReq, *directRsp) error)
				return bindFunc(t, Unary(f))
			}
			b := method(valueHandler{add: 5, name: "v"}, "Add")
			require.Equal(t, reflect.TypeFor[*directReq](), b.req)
			require.Equal(t, reflect.TypeFor[*directRsp](), b.rsp)
			rsp, err := callBinding(t, b, ctx, &directReq{N: 2})
			require.NoError(t, err)
			require.Equal(t, 1007, rsp.N, "value receiver with fields")
			_, err = callBinding(t, b, ctx, nil)
			require.EqualError(t, err, "nil request v", "a nil request is a nil pointer")

			rsp, err = callBinding(t, method(&valueHandler{add: 7}, "Add"), ctx, &directReq{N: 2})
			require.NoError(t, err)
			require.Equal(t, 1009, rsp.N, "value method through a pointer")

			ph := &pointerHandler{}
			b = method(ph, "Count")
			for i := 1; i <= 3; i++ {
				rsp, err = callBinding(t, b, ctx, &directReq{N: 10})
				require.NoError(t, err)
				require.Equal(t, 10*i, rsp.N)
			}
			require.Equal(t, 3, ph.calls, "the pointer receiver is the handler itself")

			rsp, err = callBinding(t, method(zeroHandler{}, "Neg"), ctx, &directReq{N: 4})
			require.NoError(t, err)
			require.Equal(t, -4, rsp.N, "zero-size receiver")

			offset := 3
			fn := func(ctx context.Context, req *directReq, rsp *directRsp) error {
				rsp.N = req.N + offset
				return errors.New("closure")
			}
			var f any = fn
			if typed {
				f = Unary(fn)
			}
			rsp, err = callBinding(t, bindFunc(t, f), ctx, &directReq{N: 1})
			require.EqualError(t, err, "closure")
			require.Equal(t, 4, rsp.N, "a closure keeps its captured variables")

			var seen context.Context = context.TODO()
			b = bindFunc(t, func(ctx context.Context, _ *directReq, _ *directRsp) error {
				seen = ctx
				return nil
			})
			//lint:ignore SA1012 a wrapper may pass a nil ctx, which must reach the handler as it is
			require.NoError(t, b.impl.call(nil, nil, nil))
			require.Nil(t, seen, "a nil ctx reaches the handler as nil")
		})
	}
}

// A request or response of another type than the handler's is an error,
// not a crash, on both paths.
func TestUnaryArgumentTypes(t *testing.T) {
	fn := func(_ context.Context, _ *directReq, _ *directRsp) error { return nil }
	for _, b := range []unaryBinding{bindFunc(t, fn), bindFunc(t, Unary(fn))} {
		ctx := context.Background()
		require.EqualError(t, b.impl.call(ctx, "x", &directRsp{}), "server: request is a string, the handler takes a *server.directReq")
		require.EqualError(t, b.impl.call(ctx, directReq{}, &directRsp{}), "server: request is a server.directReq, the handler takes a *server.directReq")
		require.EqualError(t, b.impl.call(ctx, &directReq{}, &directReq{}), "server: response is a *server.directReq, the handler takes a *server.directRsp")
		require.NoError(t, b.impl.call(ctx, (*directReq)(nil), (*directRsp)(nil)), "typed nil pointers")
	}
	_, err := Unary[directReq, directRsp](nil).bind()
	require.EqualError(t, err, "nil function")
}

// args allocates the request, the response and the call's state once, and
// they are distinct values of the handler's types.
func TestUnaryArgs(t *testing.T) {
	fn := func(_ context.Context, _ *directReq, _ *directRsp) error { return nil }
	for _, b := range []unaryBinding{bindFunc(t, fn), bindFunc(t, Unary(fn))} {
		req, rsp, st := b.impl.args()
		require.IsType(t, &directReq{}, req)
		require.IsType(t, &directRsp{}, rsp)
		require.NotNil(t, st)
		req.(*directReq).N, rsp.(*directRsp).N = 1, 2
		require.Equal(t, 1, req.(*directReq).N)
		require.Equal(t, 2, rsp.(*directRsp).N)
		allocs := testing.AllocsPerRun(100, func() { b.impl.args() })
		require.Equal(t, 1.0, allocs, "one allocation for the three")
	}
}

// BenchmarkUnaryCall is one call of an endpoint's handler, by path.
func BenchmarkUnaryCall(b *testing.B) {
	ctx := context.WithValue(context.Background(), ctxKey{}, 1)
	var req, rsp any = &directReq{N: 1}, &directRsp{}
	for _, bc := range []struct {
		name string
		b    unaryBinding
	}{
		{"Unary", bindFunc(b, Unary(valueHandler{add: 1}.Add))},
		{"reflect/method", bindMethod(b, valueHandler{add: 1}, "Add")},
		{"reflect/func", bindFunc(b, valueHandler{add: 1}.Add)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.b.impl.call(ctx, req, rsp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// UnaryPooled's arguments come zeroed, whatever the last call left in
// them; once a call's are freed, what it kept reads zero; built with
// microsim_poison, none is reused. A nil pool is refused.
func TestUnaryPooledArgs(t *testing.T) {
	var pool ArgPool[directReq, directRsp]
	b := bindFunc(t, UnaryPooled(valueHandler{add: 1}.Add, &pool))
	var last *directReq
	for i := range 100 {
		req, rsp, st := b.impl.args()
		r, p := req.(*directReq), rsp.(*directRsp)
		require.Zero(t, *r, "call %d", i)
		require.Zero(t, *p, "call %d", i)
		require.Zero(t, st.req, "call %d", i)
		require.False(t, st.h.ended, "call %d", i)
		if poison.On {
			require.NotSame(t, last, r, "built with microsim_poison, nothing is reused")
		}
		last = r
		r.N, p.N, st.req.Service, st.h.ended = i+1, i+2, "svc", true
		st.free()
		require.Zero(t, *r, "call %d, freed", i)
		require.Zero(t, *p, "call %d, freed", i)
		require.Zero(t, st.req, "call %d, freed", i)
		require.False(t, st.h.ended, "call %d, freed", i)
	}
	_, err := UnaryPooled(valueHandler{}.Add, nil).bind()
	require.ErrorContains(t, err, "nil ArgPool")
	_, err = UnaryPooled[directReq, directRsp](nil, &pool).bind()
	require.ErrorContains(t, err, "nil function")
}

// counterServer is a UnaryServer that is a field of a larger struct.
type counterServer struct{ calls, add int }

func (c *counterServer) ServeUnary(ctx context.Context, req *directReq, rsp *directRsp) error {
	c.calls++
	rsp.N = req.N + c.add
	return nil
}

// UnaryWith serves from a value's ServeUnary, the value itself (a pointer
// into a larger struct here) receiving every call; without a pool each
// call's arguments are new, with one they are the pool's, zeroed. A nil
// handler is refused.
func TestUnaryWith(t *testing.T) {
	ctx := context.Background()
	var owner struct {
		before int
		srv    counterServer
	}
	owner.srv.add = 10
	b := bindFunc(t, UnaryWith[directReq, directRsp](&owner.srv, nil))
	require.Equal(t, reflect.TypeFor[*directReq](), b.req)
	for i := 1; i <= 3; i++ {
		rsp, err := callBinding(t, b, ctx, &directReq{N: i})
		require.NoError(t, err)
		require.Equal(t, i+10, rsp.N)
	}
	require.Equal(t, 3, owner.srv.calls, "the pointer into the struct is the handler")
	r1, _, _ := b.impl.args()
	r2, _, _ := b.impl.args()
	require.NotSame(t, r1, r2, "without a pool, new arguments")

	var pool ArgPool[directReq, directRsp]
	pb := bindFunc(t, UnaryWith[directReq, directRsp](&owner.srv, &pool))
	// (Under the race detector a sync.Pool drops a quarter of what it is
	// given, at random: some of the twenty rounds reuse.)
	reused := 0
	req, _, st := pb.impl.args()
	for range 20 {
		req.(*directReq).N = 5
		st.free()
		var again any
		again, _, st = pb.impl.args()
		require.Zero(t, *again.(*directReq), "a pooled call's arguments come zeroed")
		if again == req {
			reused++
		}
		req = again
	}
	if poison.On {
		require.Zero(t, reused, "built with microsim_poison, nothing is reused")
	} else {
		require.Positive(t, reused, "with a pool, the last call's arguments")
	}

	_, err := UnaryWith[directReq, directRsp](nil, nil).bind()
	require.ErrorContains(t, err, "nil UnaryServer")
}
