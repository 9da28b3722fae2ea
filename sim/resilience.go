package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/sim/scenario"
)

// The mapping from the schema's client configuration to the framework's
// selector strategies, outlier detection and hedging.

func newStrategy(name string, r *rand.Rand) (selector.Strategy, error) {
	switch name {
	case "", scenario.StrategyRoundRobin:
		return selector.RoundRobin(), nil
	case scenario.StrategyRandom:
		return selector.Random(r), nil
	case scenario.StrategyLeastLoaded:
		return selector.P2CLeastLoaded(r), nil
	case scenario.StrategyPeakEWMA:
		return selector.P2CPeakEWMA(r, selector.PeakEWMAConfig{}), nil
	case scenario.StrategyWeightedRR:
		return selector.WeightedRoundRobin(), nil
	case scenario.StrategyConsistentHash:
		return selector.ConsistentHash(r, selector.HashConfig{}), nil
	}
	return nil, fmt.Errorf("unknown strategy %q", name)
}

func outlierConfig(o *scenario.OutlierConfig) selector.OutlierConfig {
	return selector.OutlierConfig{
		ConsecutiveFailures:  o.ConsecutiveFailures,
		SuccessRateThreshold: o.MinSuccessRate,
		SuccessRateWindow:    o.Interval.Std(),
		BaseEjectionTime:     o.BaseEjection.Std(),
		MaxEjectedPercent:    int(o.MaxEjectedShare * 100),
	}
}

func hedgePolicy(h *scenario.HedgingConfig) client.HedgePolicy {
	n := h.MaxHedges
	if n == 0 {
		n = 1
	}
	return client.HedgePolicy{Delay: h.Delay.Std(), Percentile: h.Percentile / 100, MaxHedges: n}
}

// ejectionWatch samples the selectors' per-node ejection counters once a
// window (a selector forgets a node's counters when the node leaves its
// cache, so reading them only at the end would lose ejected ghosts).
type ejectionWatch struct {
	seen map[string]uint64 // client/service/node -> ejections
}

func (e *ejectionWatch) sample(w *world) {
	for _, name := range w.order {
		c := w.clients[name]
		sr, ok := c.sel.(selector.StatsReporter)
		if !ok || !c.ejects {
			continue // no outlier detection: nothing to eject (nor to sort per window)
		}
		for _, s := range w.sc.Topology.Services {
			for _, n := range sr.Stats(s.Name) {
				k := name + "/" + s.Name + "/" + n.ID
				e.seen[k] = max(e.seen[k], n.Ejections)
			}
		}
	}
}

func (e *ejectionWatch) total() uint64 {
	var t uint64
	for _, v := range e.seen {
		t += v
	}
	return t
}

// watchEjections samples until ctx ends.
func (w *world) watchEjections(ctx context.Context, e *ejectionWatch) {
	for {
		e.sample(w)
		if !sleepUntil(ctx, time.Now().Add(w.window)) {
			e.sample(w)
			return
		}
	}
}

// clientCounters adds up the hedges the clients counted.
func (w *world) clientHedges() (hedges uint64) {
	for _, name := range w.order {
		if sr, ok := w.clients[name].cli.(client.StatsReporter); ok {
			hedges += sr.Stats().Hedges
		}
	}
	return hedges
}
