package sim

import (
	"fmt"
	"strings"

	"github.com/microsim/microsim/sim/scenario"
)

// checkEdge evaluates an edge assertion.
func (w *world) checkEdge(c *scenario.EdgeCheck, faults []*faultRun) AssertionResult {
	sp := w.spanOf(c.Scope, faults)
	what := c.Service
	if c.Endpoint != "" {
		what += "/" + c.Endpoint
	}
	if c.Caller != "" {
		what = c.Caller + " -> " + what
	} else {
		what = "calls to " + what
	}
	q := edgeQuery{caller: c.Caller, service: c.Service, endpoint: c.Endpoint, from: sp.from, to: sp.to}
	var a agg
	if sp.whole(w) {
		a = w.metrics.wholeEdges(q)
	} else {
		a = w.metrics.sumEdges(q)
	}
	r := AssertionResult{Name: "edge " + what}
	if a.calls == 0 {
		r.Observed, r.Detail = "no calls", "no call on the edge in "+sp.desc
		return r
	}
	b := checks{r: &r}
	if c.MinSuccessRate != nil {
		rate := ratio(a.ok, a.calls)
		b.add(rate, "ratio", "success "+pct(rate), "success >= "+pct(*c.MinSuccessRate), rate >= *c.MinSuccessRate)
	}
	if c.MaxAttemptsPerCall != nil {
		per := ratio(a.attempts, a.calls)
		b.add(per, "count", fmt.Sprintf("%.3f attempts per call", per), fmt.Sprintf("<= %.3f attempts per call", *c.MaxAttemptsPerCall), per <= *c.MaxAttemptsPerCall)
	}
	if c.Percentile != 0 {
		p := percentile(a.hist, c.Percentile)
		b.add(msOf(p), "ms", fmt.Sprintf("p%g %s", c.Percentile, ms(p)), fmt.Sprintf("p%g <= %v", c.Percentile, c.MaxLatency), p <= c.MaxLatency.Std())
	}
	b.done(fmt.Sprintf("%d calls, %d succeeded, %d attempts in %s", a.calls, a.ok, a.attempts, sp.desc))
	return r
}

// checks collects the bounds of an assertion that has several: what was
// observed and expected of each, whether all held; the result's Value and
// Unit are the first bound's.
type checks struct {
	r        *AssertionResult
	obs, exp []string
	failed   bool
}

// add records one bound: its value in unit, what was observed and
// expected, and whether it held.
func (b *checks) add(value float64, unit, observed, expected string, held bool) {
	if b.r.Unit == "" {
		b.r.Value, b.r.Unit = value, unit
	}
	b.obs, b.exp = append(b.obs, observed), append(b.exp, expected)
	b.failed = b.failed || !held
}

// done writes the bounds into the result, with its detail.
func (b *checks) done(detail string) {
	b.r.Observed, b.r.Expected = strings.Join(b.obs, ", "), joinAnd(b.exp)
	b.r.Name += " " + b.r.Expected
	b.r.Detail = detail
	b.r.Passed = !b.failed
}

// checkAmplification evaluates an amplification assertion.
func (w *world) checkAmplification(c *scenario.AmplificationCheck, faults []*faultRun) AssertionResult {
	sp := w.spanOf(c.Scope, faults)
	top := w.metrics.sum(query{workload: c.Workload, from: sp.from, to: sp.to})
	var attempts uint64
	for _, in := range w.instances {
		if in.service != c.Service {
			continue
		}
		for k := sp.from; k < sp.to; k++ {
			attempts += w.metrics.instWindow(in.id, k)
		}
	}
	r := AssertionResult{Unit: "count", Expected: rangeText(c.Min, c.Max, "%.3f")}
	r.Name = fmt.Sprintf("attempts on %s per%s call %s", c.Service, nonEmpty(scopeDesc(c.Scope), " top-level"), r.Expected)
	if top.calls == 0 {
		r.Observed, r.Detail = "no calls", "no top-level call in "+sp.desc
		return r
	}
	per := ratio(attempts, top.calls)
	r.Value, r.Observed = per, fmt.Sprintf("%.3f", per)
	r.Detail = fmt.Sprintf("%d attempts on %s for %d top-level calls in %s", attempts, c.Service, top.calls, sp.desc)
	r.Passed = (c.Min == nil || per >= *c.Min) && (c.Max == nil || per <= *c.Max)
	return r
}

// rangeText words bounds with format f ("<= 1.500", "in [1.000, 2.000]").
func rangeText(lo, hi *float64, f string) string {
	switch {
	case lo != nil && hi != nil:
		return fmt.Sprintf("in ["+f+", "+f+"]", *lo, *hi)
	case lo != nil:
		return fmt.Sprintf(">= "+f, *lo)
	case hi != nil:
		return fmt.Sprintf("<= "+f, *hi)
	}
	return "any"
}
