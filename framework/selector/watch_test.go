package selector_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
)

// allIDs selects service and returns every node its Next yields.
func allIDs(t *testing.T, s selector.Selector, service string) []string {
	t.Helper()
	next, err := s.Select(context.Background(), service)
	require.NoError(t, err)
	got, _ := drain(next)
	return got
}

func TestWatchDeleteRemovesNode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		ns := nodes("n", 3)
		register(t, reg, service("svc", "v1", ns...))
		s := newSelector(t, reg)
		require.ElementsMatch(t, ids(ns), allIDs(t, s, "svc"))

		require.NoError(t, reg.Deregister(context.Background(), service("svc", "v1", ns[1])))
		synctest.Wait() // the watch goroutine applies the Delete
		for range 30 {
			assert.NotEqual(t, "n-0001", pick(t, s, "svc"))
		}
		assert.ElementsMatch(t, []string{"n-0000", "n-0002"}, allIDs(t, s, "svc"))
		gets, _ := reg.counts()
		assert.Equal(t, 1, gets, "events, not refetches, keep the cache current")

		// Deleting the last nodes leaves nothing to choose.
		require.NoError(t, reg.Deregister(context.Background(), service("svc", "v1", ns[0], ns[2])))
		synctest.Wait()
		_, err := s.Select(context.Background(), "svc")
		require.ErrorIs(t, err, selector.ErrNoneAvailable)
	})
}

func TestWatchCreateAndUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		ns := nodes("n", 3)
		register(t, reg, service("svc", "v1", ns[0]))
		s := newSelector(t, reg)
		require.Equal(t, []string{"n-0000"}, allIDs(t, s, "svc"))

		// Create: a new node, in a new version.
		register(t, reg, service("svc", "v2", ns[1]))
		synctest.Wait()
		assert.ElementsMatch(t, []string{"n-0000", "n-0001"}, allIDs(t, s, "svc"))
		next, err := s.Select(context.Background(), "svc", selector.WithFilter(selector.FilterVersion("v2")))
		require.NoError(t, err)
		got, _ := drain(next)
		assert.Equal(t, []string{"n-0001"}, got)

		// Update: same node, new address and metadata.
		moved := &registry.Node{ID: "n-0000", Address: "elsewhere:2", Metadata: map[string]string{"zone": "east"}}
		register(t, reg, service("svc", "v1", moved))
		synctest.Wait()
		next, err = s.Select(context.Background(), "svc", selector.WithFilter(selector.FilterLabel("zone", "east")))
		require.NoError(t, err)
		n, err := next.Next()
		require.NoError(t, err)
		assert.Equal(t, "elsewhere:2", n.Address)

		// Update into another version moves the node.
		register(t, reg, service("svc", "v2", moved))
		synctest.Wait()
		next, err = s.Select(context.Background(), "svc", selector.WithFilter(selector.FilterVersion("v2")))
		require.NoError(t, err)
		got, _ = drain(next)
		assert.ElementsMatch(t, []string{"n-0000", "n-0001"}, got)
		_, err = s.Select(context.Background(), "svc", selector.WithFilter(selector.FilterVersion("v1")))
		assert.ErrorIs(t, err, selector.ErrNoneAvailable)

		gets, _ := reg.counts()
		assert.Equal(t, 1, gets)
	})
}

func TestWatchIgnoresUncachedServices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		register(t, reg, service("a", "v1", nodes("a", 1)...))
		s := newSelector(t, reg)
		pick(t, s, "a")
		register(t, reg, service("b", "v1", nodes("b", 2)...))
		synctest.Wait()
		gets, _ := reg.counts()
		require.Equal(t, 1, gets)
		assert.ElementsMatch(t, ids(nodes("b", 2)), allIDs(t, s, "b"))
		gets, _ = reg.counts()
		assert.Equal(t, 2, gets, "b was fetched on its first Select, not built from events")
	})
}

func TestEventsDuringFetchAreReplayed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		ns := nodes("n", 2)
		register(t, reg, service("svc", "v1", ns...))
		s := newSelector(t, reg)
		late := make(chan struct{})
		reg.setGates(nil, late)

		type result struct {
			next selector.Pick
			err  error
		}
		res := make(chan result, 1)
		go func() {
			next, err := s.Select(context.Background(), "svc")
			res <- result{next, err}
		}()
		synctest.Wait() // GetService has its snapshot (both nodes) and is slow to return
		require.NoError(t, reg.Deregister(context.Background(), service("svc", "v1", ns[1])))
		synctest.Wait() // the Delete arrived while the fetch was in flight
		close(late)
		r := <-res
		require.NoError(t, r.err)
		got, _ := drain(r.next)
		assert.Equal(t, []string{"n-0000"}, got, "the Delete newer than the snapshot is applied to it")
	})
}

func TestCacheTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		register(t, reg, service("svc", "v1", nodes("n", 2)...))
		s := newSelector(t, reg, selector.WithCacheTTL(10*time.Second))
		pick(t, s, "svc")
		time.Sleep(9 * time.Second)
		pick(t, s, "svc")
		gets, _ := reg.counts()
		assert.Equal(t, 1, gets, "younger than the TTL: served from the cache")
		time.Sleep(time.Second)
		pick(t, s, "svc")
		gets, _ = reg.counts()
		assert.Equal(t, 2, gets, "as old as the TTL: refetched")
		time.Sleep(5 * time.Second)
		pick(t, s, "svc")
		gets, _ = reg.counts()
		assert.Equal(t, 2, gets, "the refetch restarted the TTL")
	})
}

func TestDefaultCacheTTLIsOneMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		register(t, reg, service("svc", "v1", nodes("n", 1)...))
		s := newSelector(t, reg)
		pick(t, s, "svc")
		time.Sleep(time.Minute - time.Millisecond)
		pick(t, s, "svc")
		gets, _ := reg.counts()
		require.Equal(t, 1, gets)
		time.Sleep(time.Millisecond)
		pick(t, s, "svc")
		gets, _ = reg.counts()
		assert.Equal(t, 2, gets)
	})
}

func TestWatchReconnectRefetches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		ns := nodes("n", 3)
		register(t, reg, service("svc", "v1", ns[0], ns[1]))
		s := newSelector(t, reg)
		require.ElementsMatch(t, ids(ns[:2]), allIDs(t, s, "svc"))

		start := time.Now()
		reg.breakWatchers()
		register(t, reg, service("svc", "v1", ns[2])) // this event is lost
		synctest.Wait()
		assert.ElementsMatch(t, ids(ns[:2]), allIDs(t, s, "svc"), "not reconnected yet: the cache is what it was")
		_, watches := reg.counts()
		require.Equal(t, 1, watches)

		// The first retry comes within the first backoff step (100ms, jittered).
		for watches == 1 {
			time.Sleep(time.Millisecond)
			_, watches = reg.counts()
		}
		assert.LessOrEqual(t, time.Since(start), 100*time.Millisecond)
		assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)

		// Reconnected: entries are stale, so the next Select refetches and
		// sees the node whose event was lost.
		assert.ElementsMatch(t, ids(ns), allIDs(t, s, "svc"))
		gets, _ := reg.counts()
		assert.Equal(t, 2, gets)
	})
}

func TestStaleWhileRegistryDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		ns := nodes("n", 2)
		register(t, reg, service("svc", "v1", ns...))
		s := newSelector(t, reg, selector.WithCacheTTL(10*time.Second))
		pick(t, s, "svc")

		reg.setDown(true)
		time.Sleep(10 * time.Second) // the entry is due, the registry is down
		assert.ElementsMatch(t, ids(ns), allIDs(t, s, "svc"), "stale entry served")
		gets, _ := reg.counts()
		assert.Equal(t, 2, gets)
		for range 10 {
			allIDs(t, s, "svc")
		}
		gets, _ = reg.counts()
		assert.Equal(t, 2, gets, "held off for a second after a failed refetch")
		time.Sleep(time.Second)
		allIDs(t, s, "svc")
		gets, _ = reg.counts()
		assert.Equal(t, 3, gets)

		// A service never fetched has nothing stale to serve.
		_, err := s.Select(context.Background(), "other")
		require.ErrorIs(t, err, registry.ErrUnavailable)
		assert.Contains(t, err.Error(), `"other"`)

		// Back up: the watch reconnects within its backoff cap and the next
		// Select refetches.
		reg.setDown(false)
		time.Sleep(5 * time.Second)
		_, watches := reg.counts()
		assert.Equal(t, 2, watches)
		before, _ := reg.counts()
		allIDs(t, s, "svc")
		after, _ := reg.counts()
		assert.Equal(t, before+1, after)
	})
}

func TestRoundRobinStableAcrossCacheRebuild(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		ns := nodes("n", 4)
		register(t, reg, service("svc", "v1", ns[2], ns[0], ns[1]))
		s := newSelector(t, reg)
		assert.Equal(t, "n-0000", pick(t, s, "svc"))
		assert.Equal(t, "n-0001", pick(t, s, "svc"))

		// An Update rebuilds the entry (the node moves to the end of its
		// version's list): the rotation carries on where it was.
		register(t, reg, service("svc", "v1", ns[0]))
		synctest.Wait()
		assert.Equal(t, "n-0002", pick(t, s, "svc"))
		assert.Equal(t, "n-0000", pick(t, s, "svc"))

		// A new node joins the rotation in ID order.
		register(t, reg, service("svc", "v2", ns[3]))
		synctest.Wait()
		var got []string
		for range 8 {
			got = append(got, pick(t, s, "svc"))
		}
		// The counter is at 4: 4%4 = n-0000, then n-0001, ...
		assert.Equal(t, []string{"n-0000", "n-0001", "n-0002", "n-0003", "n-0000", "n-0001", "n-0002", "n-0003"}, got)
	})
}
