//go:build !race

package server

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/internal/poison"
)

// TestUnaryCallAllocations holds what each path allocates per call: nothing
// for Unary; for the reflective path, what reflect.Value.Call allocates
// (its result slice and the returned error's copy). Allocation counts mean
// nothing under the race detector, so this file is built without it.
func TestUnaryCallAllocations(t *testing.T) {
	ctx := context.WithValue(context.Background(), ctxKey{}, 1)
	var req, rsp any = &directReq{N: 1}, &directRsp{}
	typed := bindFunc(t, Unary(valueHandler{add: 1}.Add))
	require.Equal(t, 0.0, testing.AllocsPerRun(1000, func() { _ = typed.impl.call(ctx, req, rsp) }), "Unary")
	refl := bindMethod(t, valueHandler{add: 1}, "Add")
	require.Equal(t, 2.0, testing.AllocsPerRun(1000, func() { _ = refl.impl.call(ctx, req, rsp) }), "reflective")
}

// TestUnaryPooledAllocations: a UnaryPooled call's arguments cost no
// allocation once its pool holds a set, where Unary's cost one. Built
// with microsim_poison, which reuses nothing, each call makes a set and
// its free func.
func TestUnaryPooledAllocations(t *testing.T) {
	var pool ArgPool[directReq, directRsp]
	b := bindFunc(t, UnaryPooled(valueHandler{add: 1}.Add, &pool))
	want := 0.0
	if poison.On {
		want = 2
	}
	require.Equal(t, want, testing.AllocsPerRun(1000, func() {
		_, _, st := b.impl.args()
		st.free()
	}))
}
