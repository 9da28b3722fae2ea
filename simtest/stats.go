package simtest

import (
	"context"
	"math"
	"strings"
	"sync"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/server"
)

// Stats are the counters of the calls to one service (or one of its
// endpoints), made by every client of the cluster, the instances' own
// clients included, and of what its instances served.
type Stats struct {
	// Calls counts Call invocations; Failures those that returned an
	// error to their caller.
	Calls, Failures uint64
	// Attempts counts the attempts the calls made (first attempts,
	// retries and hedges); Retries the attempts after the first made when
	// no other attempt of the call was in flight; Hedges those made while
	// one was.
	Attempts, Retries, Hedges uint64
	// Attempted counts the attempts by the instance (node name) they went
	// to.
	Attempted map[string]uint64
	// Served counts, by instance, the calls whose handler ran (a call a
	// fault failed before its handler is not counted).
	Served map[string]uint64
	// Events counts, by instance, the events its subscribers handled.
	Events map[string]uint64
}

// RetriesPerCall is Retries/Calls; NaN when there were no calls, so an
// assertion on it cannot pass on a service nothing called.
func (s Stats) RetriesPerCall() float64 {
	if s.Calls == 0 {
		return math.NaN()
	}
	return float64(s.Retries) / float64(s.Calls)
}

// TotalServed is the sum of Served.
func (s Stats) TotalServed() uint64 { return sum(s.Served) }

// TotalEvents is the sum of Events.
func (s Stats) TotalEvents() uint64 { return sum(s.Events) }

func sum(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// Stats returns the counters of the calls to service so far. It fails
// the test when the cluster has no such service, so a misspelt name
// cannot make an assertion pass on zeros.
func (c *Cluster) Stats(service string) Stats {
	c.tb.Helper()
	if c.service(service) == nil {
		c.fatalf("%v: Stats(%q): the cluster has no such service", ErrUnknown, service)
	}
	return c.st.snapshot(service, "")
}

// EndpointStats returns the counters of the calls to one endpoint
// ("Name.Method") of service; Events stays empty. It fails the test when
// the cluster has no such service.
func (c *Cluster) EndpointStats(service, endpoint string) Stats {
	c.tb.Helper()
	if c.service(service) == nil {
		c.fatalf("%v: EndpointStats(%q, %q): the cluster has no such service", ErrUnknown, service, endpoint)
	}
	return c.st.snapshot(service, endpoint)
}

// key names a counter: a service, an endpoint or topic, and an instance
// ("" for the call counters).
type key struct{ service, what, instance string }

// stats holds the cluster's counters. The mutex is held only to read or
// bump a map entry.
type stats struct {
	mu        sync.Mutex
	calls     map[key]*callCounts
	attempted map[key]uint64
	served    map[key]uint64
	events    map[key]uint64
}

type callCounts struct{ calls, failures, attempts, retries, hedges uint64 }

func newStats() *stats {
	return &stats{calls: map[key]*callCounts{}, attempted: map[key]uint64{}, served: map[key]uint64{}, events: map[key]uint64{}}
}

// update runs fn on the call counters of service's endpoint.
func (s *stats) update(service, endpoint string, fn func(*callCounts)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key{service: service, what: endpoint}
	cc := s.calls[k]
	if cc == nil {
		cc = &callCounts{}
		s.calls[k] = cc
	}
	fn(cc)
}

func (s *stats) bump(m map[key]uint64, k key) {
	s.mu.Lock()
	m[k]++
	s.mu.Unlock()
}

// snapshot sums the counters of service (of one endpoint unless "").
func (s *stats) snapshot(service, endpoint string) Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Stats{Attempted: map[string]uint64{}, Served: map[string]uint64{}, Events: map[string]uint64{}}
	match := func(k key) bool { return k.service == service && (endpoint == "" || k.what == endpoint) }
	for k, cc := range s.calls {
		if match(k) {
			out.Calls += cc.calls
			out.Failures += cc.failures
			out.Attempts += cc.attempts
			out.Retries += cc.retries
			out.Hedges += cc.hedges
		}
	}
	add := func(dst map[string]uint64, src map[key]uint64) {
		for k, n := range src {
			if match(k) {
				dst[k.instance] += n
			}
		}
	}
	add(out.Attempted, s.attempted)
	add(out.Served, s.served)
	if endpoint == "" {
		for k, n := range s.events {
			if k.service == service {
				out.Events[k.instance] += n
			}
		}
	}
	return out
}

// callKey is the context key of a call's attempt tracker.
type callKey struct{}

// callTrack tells a call's attempts apart: first, retry or hedge.
type callTrack struct {
	mu       sync.Mutex
	started  int
	inFlight int
}

// callWrapper counts a call and its failure, and gives its attempts a
// tracker.
func (s *stats) callWrapper(next client.CallFunc) client.CallFunc {
	return func(ctx context.Context, req *client.Request, rsp any) error {
		s.update(req.Service, req.Endpoint, func(cc *callCounts) { cc.calls++ })
		err := next(context.WithValue(ctx, callKey{}, &callTrack{}), req, rsp)
		if err != nil {
			s.update(req.Service, req.Endpoint, func(cc *callCounts) { cc.failures++ })
		}
		return err
	}
}

// attemptWrapper counts an attempt as a first attempt, a retry or a
// hedge, and by the instance it goes to.
func (s *stats) attemptWrapper(next client.AttemptFunc) client.AttemptFunc {
	return func(ctx context.Context, addr string, req *client.Request, rsp any) error {
		retry, hedge := false, false
		tr, _ := ctx.Value(callKey{}).(*callTrack)
		if tr != nil {
			tr.mu.Lock()
			retry, hedge = tr.started > 0 && tr.inFlight == 0, tr.started > 0 && tr.inFlight > 0
			tr.started++
			tr.inFlight++
			tr.mu.Unlock()
			defer func() {
				tr.mu.Lock()
				tr.inFlight--
				tr.mu.Unlock()
			}()
		}
		s.update(req.Service, req.Endpoint, func(cc *callCounts) {
			cc.attempts++
			if retry {
				cc.retries++
			}
			if hedge {
				cc.hedges++
			}
		})
		s.bump(s.attempted, key{service: req.Service, what: req.Endpoint, instance: hostOf(addr)})
		return next(ctx, addr, req, rsp)
	}
}

// hostOf is the host, hence the node, of a memory address "host:port".
func hostOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[:i]
	}
	return addr
}

// servedWrapper counts the calls whose handler runs on instance.
func (s *stats) servedWrapper(service, instance string) server.HandlerWrapper {
	return func(next server.HandlerFunc) server.HandlerFunc {
		return func(ctx context.Context, req *server.Request, rsp any) error {
			s.bump(s.served, key{service: service, what: req.Endpoint, instance: instance})
			return next(ctx, req, rsp)
		}
	}
}

// eventWrapper counts the events instance's subscribers handle.
func (s *stats) eventWrapper(service, instance string) server.SubscriberWrapper {
	return func(next server.SubscriberFunc) server.SubscriberFunc {
		return func(ctx context.Context, msg *server.Message) error {
			s.bump(s.events, key{service: service, what: msg.Topic, instance: instance})
			return next(ctx, msg)
		}
	}
}
