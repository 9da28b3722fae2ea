package selector_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/selector"
)

func TestCacheIsBoundedLRU(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		for _, name := range []string{"a", "b", "c"} {
			register(t, reg, service(name, "v1", nodes(name, 2)...))
		}
		s := newSelector(t, reg, selector.WithMaxServices(2))
		sr := s.(selector.StatsReporter)
		gets := func() int { g, _ := reg.counts(); return g }

		pick(t, s, "a")
		pick(t, s, "b")
		pick(t, s, "a") // a is now more recent than b
		assert.Equal(t, 2, gets())
		next, err := s.Select(context.Background(), "b")
		require.NoError(t, err)
		n, _ := next.Next()
		s.Mark("b", n, nil)
		pick(t, s, "a")
		require.Len(t, sr.Stats("b"), 1)

		pick(t, s, "c") // evicts b, the least recently selected
		assert.Equal(t, 3, gets())
		assert.Empty(t, sr.Stats("b"), "b's counters went with it")
		pick(t, s, "a")
		pick(t, s, "c")
		assert.Equal(t, 3, gets(), "a and c are cached")
		pick(t, s, "b") // fetched again, evicting a
		assert.Equal(t, 4, gets())
		pick(t, s, "c")
		pick(t, s, "a")
		assert.Equal(t, 5, gets())

		// Events for an evicted service are ignored (b was evicted by a).
		register(t, reg, service("b", "v1", nodes("x", 1)...))
		synctest.Wait()
		assert.Equal(t, 5, gets())
	})
}

func TestCacheBoundManyServices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		names := make([]string, 100)
		for i := range names {
			names[i] = string(rune('A'+i/26)) + string(rune('a'+i%26))
			register(t, reg, service(names[i], "v1", nodes(names[i], 1)...))
		}
		s := newSelector(t, reg, selector.WithMaxServices(10))
		for _, name := range names {
			pick(t, s, name)
		}
		// The last 10 are cached; the first is not.
		g0, _ := reg.counts()
		for _, name := range names[90:] {
			pick(t, s, name)
		}
		g1, _ := reg.counts()
		assert.Equal(t, g0, g1)
		pick(t, s, names[0])
		g2, _ := reg.counts()
		assert.Equal(t, g1+1, g2)
	})
}

func TestMaxServicesValidation(t *testing.T) {
	_, err := selector.New(newFakeRegistry(), selector.WithMaxServices(0))
	assert.Error(t, err)
}
