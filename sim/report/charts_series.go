package report

import (
	"github.com/microsim/microsim/sim"
	"math"
)

// Charts of one line per workload or per call-graph edge, so that two
// configurations compared in one scenario (round robin against peak
// EWMA, budgets against none) can be told apart.

// maxLines bounds the lines of one chart; the rest are left out.
const maxLines = 12

// perSeries is one value per window for series i of each window's list.
func (c *charter) perSeries(n int, pick func(w sim.WindowReport) []sim.WindowSeries, value func(s sim.WindowSeries) float64) [][]float64 {
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, len(c.r.Windows))
		for k, w := range c.r.Windows {
			out[i][k] = math.NaN()
			if list := pick(w); i < len(list) && list[i].Calls > 0 {
				out[i][k] = value(list[i])
			}
		}
	}
	return out
}

func (c *charter) namedSeries(names []string, vals [][]float64) []series {
	var ss []series
	for i, name := range names {
		if i == maxLines {
			break
		}
		ss = append(ss, series{name: name, vals: vals[i], color: seriesColor(i)})
	}
	return ss
}

func (c *charter) workloadNames() []string {
	var out []string
	for _, w := range c.r.Workloads {
		out = append(out, w.Name)
	}
	return out
}

func (c *charter) workloadSuccess() (Chart, error) {
	vals := c.perSeries(len(c.r.Workloads), func(w sim.WindowReport) []sim.WindowSeries { return w.Workloads },
		func(s sim.WindowSeries) float64 { return 100 * float64(s.Successes) / float64(s.Calls) })
	return c.lines("workload-success", "Success rate per workload", "% of calls", false, c.namedSeries(c.workloadNames(), vals))
}

func (c *charter) workloadLatency() (Chart, error) {
	vals := c.perSeries(len(c.r.Workloads), func(w sim.WindowReport) []sim.WindowSeries { return w.Workloads },
		func(s sim.WindowSeries) float64 { return s.P99 })
	return c.lines("workload-latency", "p99 latency per workload", "ms", c.spread(vals), c.namedSeries(c.workloadNames(), vals))
}

func (c *charter) edgeLatency() (Chart, error) {
	var names []string
	for _, e := range c.r.Edges {
		names = append(names, e.Caller+" → "+e.Service+"/"+e.Endpoint)
	}
	vals := c.perSeries(len(c.r.Edges), func(w sim.WindowReport) []sim.WindowSeries { return w.Edges },
		func(s sim.WindowSeries) float64 { return s.P99 })
	return c.lines("edge-latency", "p99 latency per call-graph edge", "ms", c.spread(vals), c.namedSeries(names, vals))
}

// spread reports whether the values span so much that a log scale reads
// better.
func (c *charter) spread(vals [][]float64) bool {
	lo, hi := math.Inf(1), 0.0
	for _, v := range vals {
		for _, x := range v {
			if !math.IsNaN(x) && x > 0 {
				lo, hi = min(lo, x), max(hi, x)
			}
		}
	}
	return lo > 0 && hi/lo > 30
}

func (c *charter) clientLatency() (Chart, error) {
	var names []string
	for _, cl := range c.r.Clients {
		names = append(names, cl.Name)
	}
	vals := c.perSeries(len(c.r.Clients), func(w sim.WindowReport) []sim.WindowSeries { return w.Clients },
		func(s sim.WindowSeries) float64 { return s.P99 })
	return c.lines("client-latency", "p99 latency per client", "ms", c.spread(vals), c.namedSeries(names, vals))
}
