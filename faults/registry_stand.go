package faults

// Holds of renewals (registry.Standing) through the fault registry.
//
// A heartbeat may hand its node's renewals to the registry, which then
// makes them by itself until a renewal would fail. Behind WrapRegistry
// a renewal also fails, or deregisters, when a registry fault is in
// effect for the node. So the fault registry passes a hold on only while
// no registry fault is in effect for its node, and breaks the holds of a
// node at the instant a registry fault starts for it: the heartbeat then
// beats again, through the fault, from its next tick, as if it had never
// stopped.

import (
	"cmp"
	"slices"
	"time"

	"github.com/microsim/microsim/framework/registry"
)

// faultHold is a hold passed on to the wrapped registry: it is the
// holder the wrapped registry tells, and the Stand the caller holds.
type faultHold struct {
	inj    *Injector
	node   string
	holder registry.StandHolder
	st     registry.Stand // the wrapped registry's
}

// Stand passes the hold on to the wrapped registry, if it is a
// registry.Standing and no registry fault is in effect for the node.
func (r *faultRegistry) Stand(svc *registry.Service, at time.Time, every, ttl time.Duration, holder registry.StandHolder) (registry.Stand, bool) {
	inner, ok := r.reg.(registry.Standing)
	if !ok || holder == nil {
		return nil, false
	}
	inj := r.inj
	inj.holdMu.Lock()
	defer inj.holdMu.Unlock()
	// rebuild publishes a fault's start before it breaks the holds, under
	// holdMu: a hold either sees the fault here or is broken there.
	if len(r.runs()) > 0 {
		return nil, false
	}
	h := &faultHold{inj: inj, node: r.node, holder: holder}
	st, ok := inner.Stand(svc, at, every, ttl, h)
	if !ok {
		return nil, false
	}
	h.st = st
	if inj.holds == nil {
		inj.holds = make(map[*faultHold]uint64)
	}
	inj.holdsSeq++
	inj.holds[h] = inj.holdsSeq
	return h, true
}

// drop forgets h; it reports whether h was held.
func (h *faultHold) drop() bool {
	h.inj.holdMu.Lock()
	defer h.inj.holdMu.Unlock()
	_, ok := h.inj.holds[h]
	delete(h.inj.holds, h)
	return ok
}

// Stop ends the hold (registry.Stand).
func (h *faultHold) Stop() {
	h.drop()
	h.st.Stop()
}

// Break breaks the hold (registry.Stand).
func (h *faultHold) Break() { h.st.Break() }

// StandBroken passes the wrapped registry's break on to the holder.
func (h *faultHold) StandBroken(last time.Time) {
	h.drop()
	h.holder.StandBroken(last)
}

// breakHolds breaks the holds of the nodes a registry fault of a is in
// effect for, in the order they were made.
func (inj *Injector) breakHolds(a *activeSet) {
	inj.holdMu.Lock()
	var hit []*faultHold
	for h := range inj.holds {
		for _, run := range a.regs {
			if run.nodes.has(h.node) {
				hit = append(hit, h)
				break
			}
		}
	}
	slices.SortFunc(hit, func(x, y *faultHold) int { return cmp.Compare(inj.holds[x], inj.holds[y]) })
	inj.holdMu.Unlock()
	for _, h := range hit {
		h.st.Break()
	}
}

var _ registry.Standing = (*faultRegistry)(nil)
