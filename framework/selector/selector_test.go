package selector_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
)

func TestNewRejectsInvalidOptions(t *testing.T) {
	reg := newFakeRegistry()
	cases := map[string][]selector.Option{
		"zero ttl":      {selector.WithCacheTTL(0)},
		"negative ttl":  {selector.WithCacheTTL(-time.Second)},
		"nil rand":      {selector.WithRand(nil)},
		"nil strategy":  {selector.WithStrategy(nil)},
		"nil filter":    {selector.WithFilter(selector.FilterVersion("v1"), nil)},
		"nil option":    {nil},
		"nil selectopt": {selector.SelectOption(nil)},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := selector.New(reg, opts...)
			assert.Error(t, err)
			assert.Nil(t, s)
		})
	}
	_, err := selector.New(nil)
	assert.Error(t, err)
}

func TestSelectRoundRobinOverVersions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		ns := nodes("n", 3)
		register(t, reg, service("svc", "v1", ns[2], ns[0]))
		register(t, reg, service("svc", "v2", ns[1]))
		s := newSelector(t, reg)
		counts := make(map[string]int)
		for range 300 {
			counts[pick(t, s, "svc")]++
		}
		assert.Equal(t, map[string]int{"n-0000": 100, "n-0001": 100, "n-0002": 100}, counts)
		gets, _ := reg.counts()
		assert.Equal(t, 1, gets, "one fetch, then the cache")
	})
}

func TestSelectNextTriesEveryNodeOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		register(t, reg, service("svc", "v1", nodes("n", 5)...))
		s := newSelector(t, reg)
		next, err := s.Select(context.Background(), "svc")
		require.NoError(t, err)
		got, err := drain(next)
		assert.ElementsMatch(t, ids(nodes("n", 5)), got)
		require.ErrorIs(t, err, selector.ErrNoneAvailable)
		assert.Contains(t, err.Error(), `"svc"`)
	})
}

func TestSelectNotFound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSelector(t, newFakeRegistry())
		_, err := s.Select(context.Background(), "ghost")
		require.ErrorIs(t, err, selector.ErrNotFound)
		require.ErrorIs(t, err, registry.ErrNotFound)
		assert.Contains(t, err.Error(), `"ghost"`)
	})
}

func TestSelectFilters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		in := filterInput()
		register(t, reg, in[0])
		register(t, reg, in[1])

		s := newSelector(t, reg, selector.WithFilter(selector.FilterVersion("v2")))
		next, err := s.Select(context.Background(), "svc")
		require.NoError(t, err)
		got, _ := drain(next)
		assert.ElementsMatch(t, []string{"b-0000", "b-0001"}, got)

		// Per-call filters apply after the selector's.
		next, err = s.Select(context.Background(), "svc", selector.WithFilter(selector.FilterLabel("zone", "west")))
		require.NoError(t, err)
		got, _ = drain(next)
		assert.Equal(t, []string{"b-0000"}, got)

		_, err = s.Select(context.Background(), "svc", selector.WithFilter(selector.FilterVersion("v1")))
		require.ErrorIs(t, err, selector.ErrNoneAvailable)
		assert.Contains(t, err.Error(), `"svc"`)
	})
}

// recorder is a strategy that remembers the nodes it was given and the
// feedback it got.
type recorder struct {
	mu    sync.Mutex
	given []string
	marks []string
}

func (r *recorder) Pick(service string, ns []*registry.Node) selector.Picker {
	r.mu.Lock()
	r.given = ids(ns)
	r.mu.Unlock()
	return selector.RoundRobin().Pick(service, ns)
}

func (r *recorder) Mark(service string, node *registry.Node, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	outcome := "ok"
	if err != nil {
		outcome = "fail"
	}
	r.marks = append(r.marks, service+"/"+node.ID+"/"+outcome)
}

func TestSelectStrategyOverrideAndFeedback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		ns := nodes("n", 3)
		register(t, reg, service("svc", "v1", ns[1], ns[2], ns[0]))

		def := &recorder{}
		s := newSelector(t, reg, selector.WithStrategy(def))
		node := ns[0]
		_, err := s.Select(context.Background(), "svc")
		require.NoError(t, err)
		assert.Equal(t, ids(ns), def.given, "the selector passes nodes sorted by ID")

		other := &recorder{}
		_, err = s.Select(context.Background(), "svc", selector.WithStrategy(other))
		require.NoError(t, err)
		assert.Equal(t, ids(ns), other.given)

		s.Mark("svc", node, nil)
		s.Mark("svc", node, errors.New("boom"))
		assert.Equal(t, []string{"svc/n-0000/ok", "svc/n-0000/fail"}, def.marks)
		assert.Empty(t, other.marks, "Mark goes to the default strategy only")
	})
}

func TestMarkStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		ns := nodes("n", 2)
		register(t, reg, service("svc", "v1", ns...))
		s := newSelector(t, reg)
		sr, ok := s.(selector.StatsReporter)
		require.True(t, ok, "the default selector reports stats")

		_, err := s.Select(context.Background(), "svc")
		require.NoError(t, err)
		for range 3 {
			s.Mark("svc", ns[0], nil)
		}
		s.Mark("svc", ns[0], errors.New("x"))
		s.Mark("svc", ns[1], errors.New("x"))
		s.Mark("svc", nil, nil) // ignored
		assert.Equal(t, []selector.NodeStats{
			{ID: "n-0000", Address: "n-0000:1", Requests: 4, Successes: 3, Failures: 1, NodeFailures: 1},
			{ID: "n-0001", Address: "n-0001:1", Requests: 1, Successes: 0, Failures: 1, NodeFailures: 1},
		}, sr.Stats("svc"))
		assert.Empty(t, sr.Stats("other"))

		// A node that leaves the registry leaves the stats.
		require.NoError(t, reg.Deregister(context.Background(), service("svc", "v1", ns[1])))
		synctest.Wait()
		assert.Equal(t, []string{"n-0000"}, statIDs(sr.Stats("svc")))
	})
}

func statIDs(st []selector.NodeStats) []string {
	out := make([]string, len(st))
	for i, s := range st {
		out[i] = s.ID
	}
	return out
}

func TestCloseIsIdempotentAndStopsSelect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		register(t, reg, service("svc", "v1", nodes("n", 1)...))
		s, err := selector.New(reg)
		require.NoError(t, err)
		pick(t, s, "svc")
		require.NoError(t, s.Close())
		require.NoError(t, s.Close())
		_, err = s.Select(context.Background(), "svc")
		assert.ErrorIs(t, err, selector.ErrClosed)
		s.Mark("svc", nodes("n", 1)[0], nil) // harmless after Close
	})
}

func TestCloseWithoutSelect(t *testing.T) {
	s, err := selector.New(newFakeRegistry())
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = s.Select(context.Background(), "svc")
	assert.ErrorIs(t, err, selector.ErrClosed)
}

func TestSelectHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		register(t, reg, service("svc", "v1", nodes("n", 1)...))
		reg.setGates(make(chan struct{}), nil) // GetService hangs
		s := newSelector(t, reg)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := s.Select(ctx, "svc")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, time.Second, time.Since(start))
	})
}

func TestConcurrentFirstSelectsFetchOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		register(t, reg, service("svc", "v1", nodes("n", 4)...))
		gate := make(chan struct{})
		reg.setGates(gate, nil)
		s := newSelector(t, reg)
		var wg sync.WaitGroup
		got := make([]string, 8)
		for i := range got {
			wg.Go(func() { got[i] = pick(t, s, "svc") })
		}
		synctest.Wait() // all eight are blocked: one in GetService, seven on it
		close(gate)
		wg.Wait()
		gets, _ := reg.counts()
		assert.Equal(t, 1, gets)
		counts := make(map[string]int)
		for _, id := range got {
			counts[id]++
		}
		assert.Equal(t, map[string]int{"n-0000": 2, "n-0001": 2, "n-0002": 2, "n-0003": 2}, counts)
	})
}

func TestCancelledFetcherDoesNotFailWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		register(t, reg, service("svc", "v1", nodes("n", 1)...))
		gate := make(chan struct{})
		reg.setGates(gate, nil)
		s := newSelector(t, reg)

		short, cancel := context.WithCancel(context.Background())
		firstErr := make(chan error, 1)
		go func() { _, err := s.Select(short, "svc"); firstErr <- err }()
		synctest.Wait() // the first Select is fetching
		secondErr := make(chan error, 1)
		go func() { _, err := s.Select(context.Background(), "svc"); secondErr <- err }()
		synctest.Wait() // the second waits for the first's fetch
		cancel()
		require.ErrorIs(t, <-firstErr, context.Canceled)
		synctest.Wait() // the second fetches itself
		close(gate)
		require.NoError(t, <-secondErr)
	})
}

func TestConcurrentSelectMarkAndEvents(t *testing.T) {
	reg := newFakeRegistry()
	ns := nodes("n", 8)
	register(t, reg, service("svc", "v1", ns...))
	s := newSelector(t, reg, selector.WithStrategy(selector.Random(rand.New(rand.NewPCG(1, 1)))))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for range 300 {
				next, err := s.Select(context.Background(), "svc")
				if errors.Is(err, selector.ErrNoneAvailable) {
					continue
				}
				if !assert.NoError(t, err) {
					return
				}
				if n, err := next.Next(); err == nil {
					s.Mark("svc", n, nil)
				}
			}
		})
		wg.Go(func() {
			for i := range 50 {
				n := ns[(g*50+i)%len(ns)]
				_ = reg.Deregister(context.Background(), service("svc", "v1", n))
				_ = reg.Register(context.Background(), service("svc", "v1", n))
			}
		})
	}
	wg.Wait()
	_ = s.(selector.StatsReporter).Stats("svc")
}
