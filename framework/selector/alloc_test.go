package selector_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
)

// allocStrategies are the strategies whose hot path must not allocate;
// keyed ones are picked with a hash key.
func allocStrategies() []struct {
	name  string
	make  func() selector.Strategy
	keyed bool
} {
	return []struct {
		name  string
		make  func() selector.Strategy
		keyed bool
	}{
		{"roundrobin", selector.RoundRobin, false},
		{"random", func() selector.Strategy { return selector.Random(seeded(1, 2)) }, false},
		{"weighted", selector.WeightedRoundRobin, false},
		{"p2c-leastloaded", func() selector.Strategy { return selector.P2CLeastLoaded(seeded(1, 2)) }, false},
		{"p2c-peakewma", func() selector.Strategy { return selector.P2CPeakEWMA(seeded(1, 2), selector.PeakEWMAConfig{}) }, false},
		{"hash", func() selector.Strategy { return selector.ConsistentHash(seeded(1, 2), selector.HashConfig{}) }, true},
		{"hash-nokey", func() selector.Strategy { return selector.ConsistentHash(seeded(1, 2), selector.HashConfig{}) }, false},
	}
}

// zonedService is n nodes of "svc" v1 with an endpoint, half of them in
// zone z1, all labelled tier=gold, weights 1..3.
func zonedService(n int) *registry.Service {
	ns := nodes("n", n)
	for i, node := range ns {
		zone := "z1"
		if i%2 == 1 {
			zone = "z2"
		}
		node.Metadata = map[string]string{selector.ZoneKey: zone, "tier": "gold", selector.WeightKey: fmt.Sprint(1 + i%3)}
	}
	s := service("svc", "v1", ns...)
	s.Endpoints = []*registry.Endpoint{{Name: "Hello"}}
	return s
}

// TestPickPathDoesNotAllocate fails if a whole call's selection allocates
// in steady state: Select, Next (one attempt, then a retry), the attempts'
// Begin/done or Mark, and Release, for every strategy, with and without
// the selector's filters and outlier detection, at 10, 100 and 1,000 nodes.
func TestPickPathDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	configs := []struct {
		name string
		opts []selector.Option
	}{
		{"plain", nil},
		{"filters+outlier", []selector.Option{
			selector.WithFilter(selector.FilterVersion("v1"), selector.FilterLabel("tier", "gold"),
				selector.FilterEndpoint("Hello"), selector.FilterZone("z1", 1)),
			selector.WithOutlierDetection(selector.OutlierConfig{SuccessRateThreshold: 0.5}),
		}},
	}
	keys := make([][]selector.SelectOption, 64) // built up front, as a client's call options are
	for i := range keys {
		keys[i] = []selector.SelectOption{selector.WithHashKey(fmt.Sprint("user-", i))}
	}
	for _, sc := range allocStrategies() {
		for _, cfg := range configs {
			for _, n := range []int{10, 100, 1000} {
				t.Run(fmt.Sprintf("%s/%s/nodes=%d", sc.name, cfg.name, n), func(t *testing.T) {
					reg := newFakeRegistry()
					register(t, reg, zonedService(n))
					s := newSelector(t, reg, append([]selector.Option{selector.WithStrategy(sc.make())}, cfg.opts...)...)
					tr := s.(selector.Tracker)
					ctx := context.Background()
					i := 0
					call := func(attempts int, tracked bool) {
						var opts []selector.SelectOption
						if sc.keyed {
							opts = keys[i%len(keys)]
							i++
						}
						p, err := s.Select(ctx, "svc", opts...)
						if err != nil {
							t.Fatal(err)
						}
						for range attempts {
							node, err := p.Next()
							if err != nil {
								t.Fatal(err)
							}
							if tracked {
								tr.Begin("svc", node)(nil)
							} else {
								s.Mark("svc", node, nil)
							}
						}
						p.Release()
					}
					for range 2 * n { // warm the caches, per-node state and pools
						call(2, true)
					}
					assert.Zero(t, testing.AllocsPerRun(500, func() { call(1, true) }), "Select, Next, Begin/done, Release")
					assert.Zero(t, testing.AllocsPerRun(500, func() { call(1, false) }), "Select, Next, Mark, Release")
					assert.Zero(t, testing.AllocsPerRun(500, func() { call(2, true) }), "with a retry")
				})
			}
		}
	}
}

// TestStrategyPickDoesNotAllocate is the same for strategies on their own.
func TestStrategyPickDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	for _, sc := range allocStrategies() {
		for _, n := range []int{10, 100, 1000} {
			t.Run(fmt.Sprintf("%s/nodes=%d", sc.name, n), func(t *testing.T) {
				st := sc.make()
				ns := nodes("n", n)
				kp, _ := st.(selector.KeyPicker)
				pick := func() {
					var p selector.Picker
					if sc.keyed {
						p = kp.PickKey("svc", "user-1", ns)
					} else {
						p = st.Pick("svc", ns)
					}
					_, err := p.Next()
					require.NoError(t, err)
					_, err = p.Next()
					require.NoError(t, err)
					p.Release()
				}
				pick()
				assert.Zero(t, testing.AllocsPerRun(500, pick))
			})
		}
	}
}
