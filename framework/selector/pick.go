package selector

import (
	"sync"

	"github.com/microsim/microsim/framework/registry"
)

// Picker yields the nodes of one call's attempts, as a Strategy hands them
// out: each Next returns the node for the next attempt, never one this
// Picker returned before, and an error wrapping ErrNoneAvailable once every
// candidate has been returned. Neither method blocks.
//
// A Picker belongs to whoever got it (from Strategy.Pick or
// KeyPicker.PickKey) until that caller calls Release, exactly once, after
// its last Next. The strategies of this package recycle their Pickers: a
// Picker used or released again after Release may be serving another call
// by then, and corrupt it. Pickers are not safe for concurrent use. Callers
// other than selectors rarely hold one: Selector.Select wraps it in a Pick,
// which guards against misuse.
type Picker interface {
	// Next returns the node for the next attempt.
	Next() (*registry.Node, error)
	// Release ends the Picker's use; it must not be used afterwards.
	Release()
}

// PickerFunc adapts a function to Picker: Next calls f, Release does
// nothing. It suits strategies that allocate a fresh state per call (and
// tests); converting a func to a Picker does not allocate.
type PickerFunc func() (*registry.Node, error)

// Next calls f.
func (f PickerFunc) Next() (*registry.Node, error) { return f() }

// Release does nothing.
func (f PickerFunc) Release() {}

// Pick is one call's handle on the nodes the selector offers it, returned by
// Selector.Select. Next returns the node for the call's next attempt (never
// one the call has had) and Release ends the call's use of it.
//
// Ownership: a Pick belongs to the call that got it. The call releases it
// once every attempt that may still call Next has ended (for a hedged call,
// after all its concurrent attempts have returned); the nodes Next returned
// stay valid after Release (they belong to the selector's cache, not to the
// Pick). Release lets the selector reuse the state behind the Pick for
// another call without allocating, but the handle cannot be misused to
// reach it: every Release invalidates all copies of the handle, so a Next
// on a released Pick returns an error wrapping ErrReleased, and releasing
// again does nothing. A Pick that is never released is collected by the
// GC; it only costs the selector an allocation later.
//
// Pick is a small value: copy it freely. Its methods are safe for
// concurrent use (a mutex of its own, never held across a wait) and never
// block. The zero Pick is released.
type Pick struct {
	st  *pickState
	gen uint64
}

// NewPick returns a Pick over p, for Selectors other than the default one
// and for tests: Next calls p.Next, and the first Release calls p.Release.
// It allocates; it does not block.
func NewPick(p Picker) Pick {
	st := &pickState{picker: p}
	return Pick{st: st, gen: st.gen}
}

// Next returns the node for the call's next attempt: a due probe first,
// then the strategy's choices. It returns an error wrapping
// ErrNoneAvailable when the call has had every candidate and one wrapping
// ErrReleased after Release. It does not block or allocate (other than the
// errors).
func (p Pick) Next() (*registry.Node, error) {
	st := p.st
	if st == nil {
		return nil, ErrReleased
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.gen != p.gen {
		return nil, ErrReleased
	}
	if n := st.probe; n != nil {
		st.probe = nil
		return n, nil
	}
	if st.picker == nil {
		return nil, exhausted(st.service, 1) // the probe was the only node
	}
	return st.picker.Next()
}

// Release ends the call's use of the Pick and lets the selector reuse its
// state. Further calls of Next, on p or on any copy of it, fail with
// ErrReleased; further Releases do nothing. It does not block.
func (p Pick) Release() {
	st := p.st
	if st == nil {
		return
	}
	st.mu.Lock()
	if st.gen != p.gen {
		st.mu.Unlock()
		return
	}
	st.gen++ // invalidates every copy of p
	if st.picker != nil {
		st.picker.Release()
	}
	st.picker, st.probe, st.service = nil, nil, ""
	pool := st.pool
	st.mu.Unlock()
	if pool != nil {
		pool.Put(st)
	}
}

// pickState is the state behind a Pick. The default Selector pools them
// (pool); gen counts the Releases, and a handle is valid only while it
// carries the current one.
type pickState struct {
	mu      sync.Mutex
	gen     uint64
	service string
	probe   *registry.Node // a half-open node this call probes first
	picker  Picker         // the strategy's; nil: the call has a probe only
	pool    *sync.Pool     // where Release puts the state; nil: not pooled
}
