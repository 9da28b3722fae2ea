package selector

import (
	"sync/atomic"
	"time"

	"github.com/microsim/microsim/framework/registry"
)

// attempt is one attempt tracked by Begin. Records are pooled: done is
// bound to its record once, when the record is made, so Begin allocates
// nothing.
type attempt struct {
	done func(error) // = end

	s       *defaultSelector
	h       *svcHealth
	ns      *nodeState // nil: the service or node is not cached
	service string
	node    *registry.Node
	start   time.Time
	probe   bool   // this attempt is a half-open node's probe
	seq     uint64 // which probe
	live    atomic.Bool
}

// Begin implements Tracker: it counts a request in flight on node and
// starts its clock; the returned done ends the attempt (call it exactly
// once) and records its latency and outcome like Mark, then forwards them
// to the default strategy (LoadFeedback.End, Feedback.Mark). Neither
// blocks or allocates. A nil node gets a done that does nothing.
func (s *defaultSelector) Begin(service string, node *registry.Node) func(err error) {
	if node == nil {
		return s.noop
	}
	a := s.attempts.Get().(*attempt)
	a.s, a.service, a.node, a.probe, a.seq = s, service, node, false, 0
	a.h, a.ns = s.nodeFor(service, node)
	if ns := a.ns; ns != nil {
		ns.requests.Add(1)
		ns.inflight.Add(1)
		if ns.state.Load() == stateProbing {
			a.probe, a.seq = a.h.beginProbe(ns)
		}
	}
	if s.load != nil {
		s.load.Begin(service, node)
	}
	a.start = time.Now()
	a.live.Store(true)
	return a.done
}

// end is an attempt's done.
func (a *attempt) end(err error) {
	if !a.live.CompareAndSwap(true, false) {
		return // a second call while the record is idle: ignore
	}
	s := a.s
	// One reading of the monotonic clock (time.Since), not of both clocks
	// (time.Now): now is the start plus the latency.
	latency := time.Since(a.start)
	now := a.start.Add(latency)
	if a.ns != nil {
		a.ns.inflight.Add(-1)
		s.record(a.h, a.ns, now, err, latency, true, a.probe, a.seq)
	}
	if s.load != nil {
		s.load.End(a.service, a.node, now, latency, err)
	}
	if s.feedback != nil {
		s.feedback.Mark(a.service, a.node, err)
	}
	a.s, a.h, a.ns, a.node = nil, nil, nil, nil
	s.attempts.Put(a)
}

// Mark implements Selector: it counts the outcome for the node, runs
// outlier detection on it, and forwards it to the default strategy if that
// implements Feedback. It does not block. A client that uses Tracker does
// not call Mark as well.
func (s *defaultSelector) Mark(service string, node *registry.Node, err error) {
	if node == nil {
		return
	}
	if h, ns := s.nodeFor(service, node); ns != nil {
		ns.requests.Add(1)
		s.record(h, ns, time.Now(), err, 0, false, false, 0)
	}
	if s.feedback != nil {
		s.feedback.Mark(service, node, err)
	}
}
