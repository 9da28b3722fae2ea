package server

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

type directReq struct{ N int }
type directRsp struct{ N int }

type ctxKey struct{}

// valueHandler has a value receiver with state, so that the receiver
// takes registers of its own in the calling convention.
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

func callDirect(t *testing.T, f directFunc, ctx context.Context, req *directReq) (*directRsp, error) {
	t.Helper()
	rsp := &directRsp{}
	err := f(ctx, unsafe.Pointer(req), unsafe.Pointer(rsp))
	return rsp, err
}

func TestDirectCalls(t *testing.T) {
	ctx := context.WithValue(context.Background(), ctxKey{}, 1000)

	f, err := bindMethod(reflect.ValueOf(valueHandler{add: 5, name: "v"}), "Add")
	require.NoError(t, err)
	rsp, err := callDirect(t, f, ctx, &directReq{N: 2})
	require.NoError(t, err)
	require.Equal(t, 1007, rsp.N, "value receiver with fields")
	_, err = callDirect(t, f, ctx, nil)
	require.EqualError(t, err, "nil request v", "nil request pointer")

	f, err = bindMethod(reflect.ValueOf(&valueHandler{add: 7}), "Add")
	require.NoError(t, err)
	rsp, err = callDirect(t, f, ctx, &directReq{N: 2})
	require.NoError(t, err)
	require.Equal(t, 1009, rsp.N, "value method through a pointer")

	ph := &pointerHandler{}
	f, err = bindMethod(reflect.ValueOf(ph), "Count")
	require.NoError(t, err)
	for i := 1; i <= 3; i++ {
		rsp, err = callDirect(t, f, ctx, &directReq{N: 10})
		require.NoError(t, err)
		require.Equal(t, 10*i, rsp.N)
	}
	require.Equal(t, 3, ph.calls, "the pointer receiver is the handler itself")

	f, err = bindMethod(reflect.ValueOf(zeroHandler{}), "Neg")
	require.NoError(t, err)
	rsp, err = callDirect(t, f, ctx, &directReq{N: 4})
	require.NoError(t, err)
	require.Equal(t, -4, rsp.N, "zero-size receiver")

	offset := 3
	fn := func(ctx context.Context, req *directReq, rsp *directRsp) error {
		rsp.N = req.N + offset
		return errors.New("closure")
	}
	rsp, err = callDirect(t, bindFunc(reflect.ValueOf(fn)), ctx, &directReq{N: 1})
	require.EqualError(t, err, "closure")
	require.Equal(t, 4, rsp.N, "a closure keeps its captured variables")
}

func TestArgPointer(t *testing.T) {
	typ := reflect.TypeFor[*directReq]()
	r := &directReq{N: 1}
	p, err := argPointer(r, typ, "request")
	require.NoError(t, err)
	require.Equal(t, unsafe.Pointer(r), p)
	p, err = argPointer(nil, typ, "request")
	require.NoError(t, err)
	require.Nil(t, p)
	_, err = argPointer("x", typ, "request")
	require.EqualError(t, err, "server: request is a string, the handler takes a *server.directReq")
	_, err = argPointer(directReq{}, typ, "request")
	require.Error(t, err, "a value where a pointer is expected")
}
