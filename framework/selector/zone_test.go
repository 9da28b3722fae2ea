package selector_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
)

// zoned returns nodes z-<zone>-<i>, perZone in each zone.
func zoned(perZone int, zones ...string) []*registry.Node {
	var out []*registry.Node
	for _, z := range zones {
		for i := range perZone {
			id := fmt.Sprintf("z-%s-%d", z, i)
			out = append(out, &registry.Node{ID: id, Address: id + ":1", Metadata: map[string]string{selector.ZoneKey: z}})
		}
	}
	return out
}

func TestFilterZone(t *testing.T) {
	in := []*registry.Service{service("svc", "v1", zoned(2, "a", "b")...)}
	assert.Equal(t, []string{"z-a-0", "z-a-1"}, nodeIDs(selector.FilterZone("a", 2)(in)))
	assert.Equal(t, []string{"z-a-0", "z-a-1"}, nodeIDs(selector.FilterZone("a", 0)(in)), "min 1")
	// Fewer than the threshold: spill over to every zone.
	all := nodeIDs(in)
	assert.Equal(t, all, nodeIDs(selector.FilterZone("a", 3)(in)))
	assert.Equal(t, all, nodeIDs(selector.FilterZone("c", 1)(in)), "no node in the zone")
	assert.Empty(t, selector.FilterZone("a", 1)(nil))
	// The input is untouched.
	assert.Equal(t, all, nodeIDs(in))
}

func TestZoneAffinitySpillsOverWhenZoneIsUnhealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ns := zoned(3, "a", "b", "c") // 9 nodes
		reg := newFakeRegistry()
		register(t, reg, service("svc", "v1", ns...))
		s := newSelector(t, reg,
			selector.WithFilter(selector.FilterZone("a", 2)),
			selector.WithOutlierDetection(selector.OutlierConfig{ConsecutiveFailures: 1}),
		)
		h := &harness{t: t, s: s, tr: s.(selector.Tracker), sr: s.(selector.StatsReporter), err: make(map[string]error)}
		zoneOf := func(counts map[string]int) map[string]int {
			out := make(map[string]int)
			for id, c := range counts {
				out[id[2:3]] += c
			}
			return out
		}

		// Zone a is healthy: all calls stay there.
		assert.Equal(t, map[string]int{"a": 300}, zoneOf(h.calls(300)))

		// One zone-a node fails and is ejected: 2 healthy left, still enough.
		h.fail("z-a-0", errUnavailable)
		h.calls(3)
		require.Equal(t, []string{"z-a-0"}, h.ejected())
		counts := h.calls(300)
		assert.Equal(t, map[string]int{"a": 300}, zoneOf(counts))
		assert.Zero(t, counts["z-a-0"])

		// A second one goes: 1 healthy node in zone a, below 2: spill over
		// to the healthy nodes of every zone.
		h.fail("z-a-1", errUnavailable)
		for len(h.ejected()) < 2 {
			h.call()
		}
		counts = h.calls(700)
		assert.Equal(t, map[string]int{"a": 100, "b": 300, "c": 300}, zoneOf(counts))
		assert.Zero(t, counts["z-a-0"]+counts["z-a-1"])

		// Zone a recovers through its probes: back home.
		h.fail("z-a-0", nil)
		h.fail("z-a-1", nil)
		synctest.Wait()
		for len(h.ejected()) > 0 {
			h.call()
			if len(h.ejected()) > 0 {
				sleepSecond()
			}
		}
		assert.Equal(t, map[string]int{"a": 300}, zoneOf(h.calls(300)))
	})
}

func TestSelectorFiltersAreCached(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		register(t, reg, service("svc", "v1", zoned(3, "a", "b")...))
		calls := 0
		counting := func(in []*registry.Service) []*registry.Service { calls++; return in }
		s := newSelector(t, reg, selector.WithFilter(counting, selector.FilterZone("a", 1)))
		for range 100 {
			assert.Contains(t, pick(t, s, "svc"), "z-a-")
		}
		assert.Equal(t, 1, calls, "a selector-wide filter runs once per node set")
		register(t, reg, service("svc", "v1", zoned(1, "c")...))
		synctest.Wait()
		pick(t, s, "svc")
		assert.Equal(t, 2, calls)
	})
}

func TestProbeWaitsForACallThatMayUseTheNode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newFakeRegistry()
		ns := zoned(2, "a", "b")
		register(t, reg, service("svc", "v1", ns...))
		s := newSelector(t, reg, selector.WithOutlierDetection(selector.OutlierConfig{ConsecutiveFailures: 1}))
		h := &harness{t: t, s: s, tr: s.(selector.Tracker), sr: s.(selector.StatsReporter), err: make(map[string]error)}
		h.fail("z-b-0", errUnavailable)
		h.calls(4)
		require.Equal(t, []string{"z-b-0"}, h.ejected())
		time.Sleep(selector.DefaultBaseEjectionTime)

		// Calls that only want zone a cannot carry z-b-0's probe.
		zoneA := selector.WithFilter(selector.FilterLabel(selector.ZoneKey, "a"))
		for range 10 {
			assert.Contains(t, pick(t, s, "svc", zoneA), "z-a-")
		}
		// A call that may go anywhere does, a second later at most.
		h.fail("z-b-0", nil)
		time.Sleep(time.Second)
		assert.Equal(t, "z-b-0", h.call())
		assert.Empty(t, h.ejected())
	})
}
