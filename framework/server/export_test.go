package server

import "context"

// HandlerCtxBuilt reports whether ctx is a handler's ctx (ok) and whether
// its context chain has been built.
func HandlerCtxBuilt(ctx context.Context) (built, ok bool) {
	h, ok := ctx.(*handlerCtx)
	if !ok {
		return false, false
	}
	return h.built.Load(), true
}
