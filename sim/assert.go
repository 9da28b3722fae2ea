package sim

import (
	"fmt"
	"time"

	"github.com/microsim/microsim/sim/scenario"
)

// evaluate checks every assertion against the metrics.
func (w *world) evaluate(sc *scenario.Scenario, faults []*faultRun) []AssertionResult {
	out := make([]AssertionResult, 0, len(sc.Assertions))
	for i := range sc.Assertions {
		a := &sc.Assertions[i]
		var r AssertionResult
		switch {
		case a.SuccessRate != nil:
			r = w.checkSuccess(a.SuccessRate, faults)
		case a.Latency != nil:
			r = w.checkLatency(a.Latency, faults)
		case a.TrafficShare != nil:
			r = w.checkShare(a.TrafficShare, faults)
		case a.Retries != nil:
			r = w.checkCount("retries", a.Retries, faults)
		case a.Hedges != nil:
			r = w.checkCount("hedges", a.Hedges, faults)
		case a.Recovery != nil:
			r = w.checkRecovery(a.Recovery, faults)
		case a.Edge != nil:
			r = w.checkEdge(a.Edge, faults)
		case a.Amplification != nil:
			r = w.checkAmplification(a.Amplification, faults)
		case a.Delivery != nil:
			r = w.checkDelivery(a.Delivery)
		case a.Stream != nil:
			r = w.checkStream(a.Stream)
		}
		r.Kind = a.Kind()
		if a.Name != "" {
			r.Name = a.Name
		}
		out = append(out, r)
	}
	return out
}

// span is a time range of the run as window indexes [from, to).
type span struct {
	from, to int
	desc     string
}

// spanOf resolves a scope's time range.
func (w *world) spanOf(s scenario.Scope, faults []*faultRun) span {
	base := time.Duration(0)
	to := w.sc.Duration.Std()
	if s.Fault != "" {
		for _, fr := range faults {
			if fr.name != s.Fault {
				continue
			}
			occ := occurrences(fr.spec, w.sc.Duration.Std())
			if len(occ) > 0 {
				base = occ[0].start
				if occ[0].end >= 0 {
					to = occ[0].end
				}
			}
		}
	}
	from := base + s.From.Std()
	if s.To > 0 {
		to = base + s.To.Std()
	}
	sp := span{from: int(from / w.window), to: int((to + w.window - 1) / w.window)}
	sp.to = min(sp.to, w.metrics.nwin)
	sp.desc = fmt.Sprintf("%v-%v", time.Duration(sp.from)*w.window, time.Duration(sp.to)*w.window)
	if s.Fault != "" {
		sp.desc += " (fault " + s.Fault + ")"
	}
	return sp
}

func (sp span) whole(w *world) bool { return sp.from == 0 && sp.to >= w.metrics.nwin }

// chunks splits a span into windows of width (a multiple of the metrics
// window); width 0 means the span as one chunk.
func (w *world) chunks(sp span, width scenario.Duration) []span {
	if width == 0 {
		return []span{sp}
	}
	k := max(int(width.Std()/w.window), 1)
	var out []span
	for f := sp.from; f < sp.to; f += k {
		c := span{from: f, to: min(f+k, sp.to)}
		c.desc = fmt.Sprintf("window %v-%v", time.Duration(c.from)*w.window, time.Duration(c.to)*w.window)
		out = append(out, c)
	}
	return out
}

func scopeDesc(s scenario.Scope) string {
	d := ""
	if s.Workload != "" {
		d += " workload " + s.Workload
	}
	if s.Endpoint != "" {
		d += " " + s.Endpoint
	}
	return d
}

func (w *world) checkSuccess(c *scenario.SuccessRateCheck, faults []*faultRun) AssertionResult {
	sp := w.spanOf(c.Scope, faults)
	lo := &c.Min
	if c.Min == 0 && c.Max != nil {
		lo = nil
	}
	r := AssertionResult{Unit: "ratio", Expected: bounds(lo, c.Max)}
	r.Name = fmt.Sprintf("success rate%s %s", scopeDesc(c.Scope), r.Expected)
	if c.Window > 0 {
		r.Name = fmt.Sprintf("success rate%s per %v window %s", scopeDesc(c.Scope), c.Window, r.Expected)
	}
	worst, worstDesc := 2.0, "" // the lowest rate
	best, bestDesc := -1.0, ""  // the highest rate
	for _, ch := range w.chunks(sp, c.Window) {
		a := w.metrics.sum(query{workload: c.Workload, endpoint: c.Endpoint, from: ch.from, to: ch.to})
		if a.calls == 0 {
			continue
		}
		rate := float64(a.ok) / float64(a.calls)
		desc := fmt.Sprintf("%s: %d of %d calls succeeded", nonEmpty(ch.desc, sp.desc), a.ok, a.calls)
		if rate < worst {
			worst, worstDesc = rate, desc
		}
		if rate > best {
			best, bestDesc = rate, desc
		}
	}
	if best < 0 {
		r.Observed, r.Detail = "no calls", "no call matched in "+sp.desc
		return r
	}
	r.Value, r.Observed, r.Detail = worst, pct(worst), worstDesc
	tooHigh := c.Max != nil && best > *c.Max
	if tooHigh && worst >= c.Min {
		r.Value, r.Observed, r.Detail = best, pct(best), bestDesc
	}
	if c.Window > 0 {
		r.Observed += " (worst window)"
	}
	r.Passed = worst >= c.Min && !tooHigh
	return r
}

func nonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (w *world) checkLatency(c *scenario.LatencyCheck, faults []*faultRun) AssertionResult {
	sp := w.spanOf(c.Scope, faults)
	var exp, bound []string
	if c.Min > 0 {
		exp = append(exp, ">= "+ms(c.Min.Std()))
		bound = append(bound, fmt.Sprintf(">= %v", c.Min))
	}
	if c.Max > 0 {
		exp = append(exp, "<= "+ms(c.Max.Std()))
		bound = append(bound, fmt.Sprintf("<= %v", c.Max))
	}
	r := AssertionResult{Unit: "ms", Expected: joinAnd(exp)}
	r.Name = fmt.Sprintf("p%g latency%s %s", c.Percentile, scopeDesc(c.Scope), joinAnd(bound))
	if c.Window > 0 {
		r.Name = fmt.Sprintf("p%g latency%s per %v window %s", c.Percentile, scopeDesc(c.Scope), c.Window, joinAnd(bound))
	}
	q := query{workload: c.Workload, endpoint: c.Endpoint}
	worst, worstDesc := time.Duration(-1), ""    // the highest
	least, leastDesc := time.Duration(1<<62), "" // the lowest
	for _, ch := range w.chunks(sp, c.Window) {
		var a agg
		if c.Window == 0 && sp.whole(w) {
			a = w.metrics.whole(q) // the precise histograms
		} else {
			q.from, q.to = ch.from, ch.to
			a = w.metrics.sum(q)
		}
		if a.calls == 0 {
			continue
		}
		v := percentile(a.hist, c.Percentile)
		desc := fmt.Sprintf("%s: %d calls", nonEmpty(ch.desc, sp.desc), a.calls)
		if v > worst {
			worst, worstDesc = v, desc
		}
		if v < least {
			least, leastDesc = v, desc
		}
	}
	if worst < 0 {
		r.Observed, r.Detail = "no calls", "no call matched in "+sp.desc
		return r
	}
	tooHigh := c.Max > 0 && worst > c.Max.Std()
	tooLow := c.Min > 0 && least < c.Min.Std()
	show, showDesc := worst, worstDesc
	if tooLow && !tooHigh || c.Max == 0 {
		show, showDesc = least, leastDesc
	}
	r.Value, r.Observed, r.Detail = msOf(show), ms(show), showDesc
	if c.Window > 0 {
		r.Observed += " (worst window)"
	}
	r.Passed = !tooHigh && !tooLow
	return r
}

func (w *world) checkShare(c *scenario.TrafficShareCheck, faults []*faultRun) AssertionResult {
	sp := w.spanOf(c.Scope, faults)
	service := c.Service
	if c.Instance != "" && service == "" {
		service = w.byName[c.Instance].service
	}
	if service == "" {
		service = w.sc.Topology.Services[0].Name
	}
	what := c.Instance
	if what == "" {
		what = "zone " + c.Zone
	}
	r := AssertionResult{Unit: "ratio", Expected: bounds(c.Min, c.Max)}
	r.Name = fmt.Sprintf("traffic share of %s in %s %s", what, sp.desc, r.Expected)
	var part, total uint64
	for _, in := range w.instances {
		if in.service != service {
			continue
		}
		var n uint64
		for k := sp.from; k < sp.to; k++ {
			n += w.metrics.instWindow(in.id, k)
		}
		total += n
		if (c.Instance != "" && in.name == c.Instance) || (c.Zone != "" && in.zone == c.Zone) {
			part += n
		}
	}
	if total == 0 {
		r.Observed, r.Detail = "no attempts", fmt.Sprintf("no attempt reached service %s in %s", service, sp.desc)
		return r
	}
	share := float64(part) / float64(total)
	r.Value, r.Observed = share, pct(share)
	r.Detail = fmt.Sprintf("%d of %d attempts to %s", part, total, service)
	r.Passed = (c.Min == nil || share >= *c.Min) && (c.Max == nil || share <= *c.Max)
	return r
}

func bounds(lo, hi *float64) string {
	switch {
	case lo != nil && hi != nil:
		return fmt.Sprintf("in [%s, %s]", pct(*lo), pct(*hi))
	case lo != nil:
		return ">= " + pct(*lo)
	case hi != nil:
		return "<= " + pct(*hi)
	}
	return "any"
}

func (w *world) checkCount(kind string, c *scenario.CountCheck, faults []*faultRun) AssertionResult {
	sp := w.spanOf(c.Scope, faults)
	a := w.metrics.sum(query{workload: c.Workload, endpoint: c.Endpoint, from: sp.from, to: sp.to})
	var count uint64
	switch {
	case kind == "hedges":
		// Hedges are counted by the clients for the whole run.
		count = w.hedges
		sp.desc = "the whole run"
	case sp.whole(w) && c.Workload == "" && c.Endpoint == "":
		count = retries(a.attempts, a.calls, w.hedges)
	default:
		// Per window and series, attempts beyond the first include hedges.
		count = retries(a.attempts, a.calls, 0)
	}
	r := AssertionResult{Unit: "count", Value: float64(count), Observed: fmt.Sprintf("%d %s in %d calls", count, kind, a.calls)}
	var exp []string
	pass := true
	if c.MaxTotal != nil {
		exp = append(exp, fmt.Sprintf("<= %d in total", *c.MaxTotal))
		pass = pass && int64(count) <= *c.MaxTotal
	}
	if c.MinTotal != nil {
		exp = append(exp, fmt.Sprintf(">= %d in total", *c.MinTotal))
		pass = pass && int64(count) >= *c.MinTotal
	}
	if c.MaxPerCall != nil {
		per := 0.0
		if a.calls > 0 {
			per = float64(count) / float64(a.calls)
		}
		exp = append(exp, fmt.Sprintf("<= %.3f per call", *c.MaxPerCall))
		pass = pass && per <= *c.MaxPerCall
		r.Observed += fmt.Sprintf(" (%.3f per call)", per)
	}
	r.Expected = joinAnd(exp)
	r.Passed = pass
	r.Name = fmt.Sprintf("%s%s %s", kind, scopeDesc(c.Scope), r.Expected)
	r.Detail = "in " + sp.desc
	return r
}

func joinAnd(parts []string) string {
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += " and "
		}
		out += p
	}
	return out
}

func (w *world) checkRecovery(c *scenario.RecoveryCheck, faults []*faultRun) AssertionResult {
	minRate := c.MinSuccessRate
	if minRate == 0 {
		minRate = 0.99
	}
	r := AssertionResult{Unit: "s", Expected: "<= " + c.Within.String()}
	r.Name = fmt.Sprintf("recovery after %s within %v (success rate >= %s)", c.Fault, c.Within, pct(minRate))
	var end time.Duration = -1
	for _, fr := range faults {
		if fr.name != c.Fault {
			continue
		}
		occ := occurrences(fr.spec, w.sc.Duration.Std())
		if len(occ) > 0 && occ[len(occ)-1].end >= 0 {
			end = occ[len(occ)-1].end + time.Duration(max(len(fr.targets)-1, 0))*fr.spec.Stagger.Std()
		}
	}
	if end < 0 {
		r.Observed, r.Detail = "never ended", "the fault lasts to the end of the run, so nothing can recover"
		return r
	}
	sp := span{from: int(end / w.window), to: w.metrics.nwin}
	lastBad := time.Duration(-1)
	for _, ch := range w.chunks(sp, c.Window) {
		a := w.metrics.sum(query{workload: c.Workload, endpoint: c.Endpoint, from: ch.from, to: ch.to})
		if a.calls > 0 && float64(a.ok)/float64(a.calls) < minRate {
			lastBad = time.Duration(ch.to) * w.window
		}
	}
	rec := time.Duration(0)
	if lastBad > end {
		rec = lastBad - end
	}
	if lastBad >= w.sc.Duration.Std() {
		r.Observed, r.Detail = "not recovered", fmt.Sprintf("the success rate was still below %s in the last window", pct(minRate))
		r.Value = rec.Seconds()
		return r
	}
	r.Value, r.Observed = rec.Seconds(), rec.String()
	r.Detail = fmt.Sprintf("fault ended at %v; every window from %v on has success rate >= %s", end, end+rec, pct(minRate))
	r.Passed = rec <= c.Within.Std()
	return r
}
