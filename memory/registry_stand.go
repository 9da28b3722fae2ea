package memory

// Renewals the registry holds (registry.Standing).
//
// In a world of many instances each node is renewed by its heartbeat every
// interval, and each renewal reads the node's state when it is out of the
// CPU's caches. Yet in memory a renewal can only fail for a few reasons,
// all of them known to the network: the host is paused or crashed, or the
// network closed. So a heartbeat may hand its renewals to the registry:
// the node then simply does not expire, and its heartbeat stops beating.
// The registry breaks the standing at the instant a renewal would start to
// fail (Host.Pause, Host.Crash, which Network.Close does to every host),
// or when anything else writes the node (a registration, a renewal from
// another caller, a deregistration, which the heartbeat's beats would
// have met). The node
// then expires one TTL after the last tick it held, exactly as if every
// beat had been made, and the heartbeat beats again from the next tick.
// A tick at the instant of the break is not held: the pause or crash
// comes first.

import (
	"time"

	"github.com/microsim/microsim/framework/registry"
)

// regStand is the standing of one node: its renewals at at+every,
// at+2*every... are held until it breaks or is stopped.
type regStand struct {
	s      *registryState
	e      *regNode // nil once broken or stopped
	h      *Host    // the host that asked; its pause or crash breaks it
	at     time.Time
	every  time.Duration
	ttl    time.Duration
	holder registry.StandHolder

	prev, next *regStand // in h.stands
}

// brokenCall is a call due to the holder of a broken standing.
type brokenCall struct {
	holder registry.StandHolder
	last   time.Time
}

// lastHeld returns the last tick held before p: the latest of at+k*every
// (k >= 0) before p, or at itself if p is at.
func (st *regStand) lastHeld(p time.Time) time.Time {
	if !p.After(st.at) {
		return st.at
	}
	k := (p.Sub(st.at) - 1) / st.every
	return st.at.Add(k * st.every)
}

// stand holds the renewals of the node registered from svc for h (see
// registry.Standing).
func (s *registryState) stand(h *Host, svc *registry.Service, at time.Time, every, ttl time.Duration, holder registry.StandHolder) (registry.Stand, bool) {
	s.mu.Lock()
	defer s.unlock()
	if s.closed || every <= 0 || ttl <= every || holder == nil || !h.Up() || h.Paused() {
		return nil, false
	}
	e := s.renewals[svc]
	if e == nil || e.stand != nil || e.expires.IsZero() || e.expires.Before(at.Add(ttl)) {
		return nil, false
	}
	st := &regStand{s: s, e: e, h: h, at: at, every: every, ttl: ttl, holder: holder}
	e.stand = st
	if h.stands == nil {
		h.stands = st
	} else {
		last := h.stands.prev
		last.next, st.prev = st, last
	}
	h.stands.prev = st // the first's prev is the last
	return st, true
}

// Stop ends the standing: the node expires one TTL after the last tick
// held, unless renewed.
func (st *regStand) Stop() {
	s := st.s
	s.mu.Lock()
	defer s.unlock()
	if st.e != nil {
		s.endLocked(st, time.Now())
		s.unlinkLocked(st)
	}
}

// Break breaks the standing now: its holder is told the last tick held.
func (st *regStand) Break() {
	s := st.s
	s.mu.Lock()
	defer s.unlock()
	if st.e != nil {
		s.breakLocked(st, time.Now())
	}
}

// breakLocked breaks st at p and has its holder told once mu is released.
func (s *registryState) breakLocked(st *regStand, p time.Time) {
	last := s.endLocked(st, p)
	s.unlinkLocked(st)
	s.broken = append(s.broken, brokenCall{holder: st.holder, last: last})
}

// endLocked ends st at p: its node's expiry is set from the last tick
// held, which it returns, and queued. It leaves st in its host's list.
func (s *registryState) endLocked(st *regStand, p time.Time) time.Time {
	e := st.e
	st.e, e.stand = nil, nil
	last := st.lastHeld(p)
	if last.After(st.at) {
		e.expires = last.Add(st.ttl)
	} // else the registration at at, which set e.expires, was the last
	if e.queued.IsZero() || e.expires.Before(e.queued) {
		s.queueLocked(e)
	}
	return last
}

// unlinkLocked removes st from its host's list. The list is circular
// through prev only: the first's prev is the last, the last's next nil.
func (s *registryState) unlinkLocked(st *regStand) {
	h := st.h
	first := h.stands
	switch {
	case st == first && st.next == nil:
		h.stands = nil
	case st == first:
		st.next.prev = st.prev
		h.stands = st.next
	case st.next == nil: // the last
		st.prev.next = nil
		first.prev = st.prev
	default:
		st.prev.next, st.next.prev = st.next, st.prev
	}
	st.prev, st.next = nil, nil
}

// breakHost breaks the standings of h, in the order they were made: a
// renewal from h would now fail (h paused or crashed).
func (s *registryState) breakHost(h *Host) {
	s.mu.Lock()
	defer s.unlock()
	s.breakHostLocked(h, time.Now())
}

func (s *registryState) breakHostLocked(h *Host, now time.Time) {
	st := h.stands
	if st == nil {
		return
	}
	h.stands = nil
	for st != nil {
		next := st.next
		st.prev, st.next = nil, nil
		last := s.endLocked(st, now)
		s.broken = append(s.broken, brokenCall{holder: st.holder, last: last})
		st = next
	}
}

// unlock releases mu, then tells the holders of the standings broken
// while it was held.
func (s *registryState) unlock() {
	if len(s.broken) == 0 {
		s.mu.Unlock()
		return
	}
	calls := s.broken
	s.broken = nil
	s.mu.Unlock()
	for _, c := range calls {
		c.holder.StandBroken(c.last)
	}
}

// Stand holds the renewals of svc while h runs (registry.Standing).
func (r *pauseRegistry) Stand(svc *registry.Service, at time.Time, every, ttl time.Duration, holder registry.StandHolder) (registry.Stand, bool) {
	return r.net.reg.stand(r.h, svc, at, every, ttl, holder)
}

var _ registry.Standing = (*pauseRegistry)(nil)
