package client_test

import (
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
)

// trackingSelector wraps a Selector and implements selector.Tracker to
// record how the client reports each attempt: how many began, how many
// ended and with which outcome, and whether any done was called twice. It
// forwards to the inner selector (its Tracker if it has one, else Mark).
type trackingSelector struct {
	selector.Selector

	mu        sync.Mutex
	begun     int
	ended     int
	successes int
	codes     map[errors.Code]int // outcome codes of failed attempts
	twice     int                 // done called more than once
}

func newTrackingSelector(inner selector.Selector) *trackingSelector {
	return &trackingSelector{Selector: inner, codes: make(map[errors.Code]int)}
}

func (s *trackingSelector) Begin(service string, node *registry.Node) func(error) {
	var inner func(error)
	if t, ok := s.Selector.(selector.Tracker); ok {
		inner = t.Begin(service, node)
	} else {
		inner = func(err error) { s.Selector.Mark(service, node, err) }
	}
	s.mu.Lock()
	s.begun++
	s.mu.Unlock()
	var once atomic.Bool
	return func(err error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !once.CompareAndSwap(false, true) {
			s.twice++
			return
		}
		s.ended++
		if err == nil {
			s.successes++
		} else {
			s.codes[errors.CodeOf(err)]++
		}
		inner(err)
	}
}

type trackCounts struct {
	begun, ended, successes, twice int
	codes                          map[errors.Code]int
}

func (s *trackingSelector) counts() trackCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return trackCounts{s.begun, s.ended, s.successes, s.twice, maps.Clone(s.codes)}
}

// attemptProbe is an attempt wrapper that records when each attempt
// started, where it went and how it ended, and how many are running.
type attemptProbe struct {
	running atomic.Int64

	mu       sync.Mutex
	attempts []probed
}

type probed struct {
	start, end time.Time
	addr       string
	err        error
	cause      error // context.Cause of the attempt's ctx when it ended
}

func (p *attemptProbe) wrapper(next client.AttemptFunc) client.AttemptFunc {
	return func(ctx context.Context, addr string, req *client.Request, rsp any) error {
		p.running.Add(1)
		defer p.running.Add(-1)
		a := probed{start: time.Now(), addr: addr}
		err := next(ctx, addr, req, rsp)
		a.end, a.err = time.Now(), err
		if ctx.Err() != nil {
			a.cause = context.Cause(ctx)
		}
		p.mu.Lock()
		p.attempts = append(p.attempts, a)
		p.mu.Unlock()
		return err
	}
}

func (p *attemptProbe) reset() []probed {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.attempts
	p.attempts = nil
	return out
}

// percentile returns the q-quantile (nearest rank) of ds.
func percentile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*q+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// stallEvery returns a hook that stalls the k-th, 2k-th, ... call of an
// instance for d (or until its ctx ends, which it counts in cancelled).
func stallEvery(k int, d time.Duration, stalls, cancelled *atomic.Int64) func(context.Context, int) error {
	return func(ctx context.Context, n int) error {
		if n%k != 0 {
			return nil
		}
		stalls.Add(1)
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			cancelled.Add(1)
			return ctx.Err()
		}
	}
}
