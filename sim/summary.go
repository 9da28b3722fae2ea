package sim

import (
	"cmp"
	"slices"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	fwerrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/sim/scenario"
)

// report turns the metrics into a Report (assertions are added after).
func (w *world) report(sc *scenario.Scenario, file string, seed uint64, virtual time.Duration, faults []*faultRun) *Report {
	m := w.metrics
	r := &Report{
		Scenario: sc.Name, Description: sc.Description, File: file, Seed: seed,
		VirtualSeconds: virtual.Seconds(), WindowSeconds: w.window.Seconds(),
		FailuresByCode: map[string]uint64{},
	}
	all := m.whole(query{})
	r.Latency = latencies(all.hist)
	for _, s := range m.series {
		r.Totals.Calls += s.calls
		r.Totals.Successes += s.ok
		r.Totals.Attempts += s.attempts
		for c, n := range s.byCode {
			if n > 0 {
				r.FailuresByCode[fwerrors.Code(c).String()] += n
			}
		}
	}
	r.Totals.Failures = r.Totals.Calls - r.Totals.Successes
	r.Totals.Retries = retries(r.Totals.Attempts, r.Totals.Calls, r.Totals.Hedges)

	r.Endpoints = w.seriesReports(func(s *seriesStats) string { return s.endpoint })
	r.Workloads = w.seriesReports(func(s *seriesStats) string { return s.workload })
	r.Clients = w.seriesReports(func(s *seriesStats) string { return s.client })

	perService := map[string]uint64{}
	attempts := make([]uint64, len(w.instances))
	for i, in := range w.instances {
		attempts[i] = m.instAttempts(in.id)
		perService[in.service] += attempts[i]
	}
	var scratch *hdr.Histogram
	qs, p := []float64{50, 99}, make([]time.Duration, 2)
	for i, in := range w.instances {
		attempts := attempts[i]
		if !m.instPercentiles(in.id, qs, p) {
			if scratch == nil {
				scratch = m.newInstHistogram()
			}
			hist := m.instHistogram(in.id, scratch)
			p[0], p[1] = percentile(hist, qs[0]), percentile(hist, qs[1])
		}
		ir := InstanceReport{Name: in.name, Service: in.service, Zone: in.zone, Attempts: attempts, Failures: m.instFailures(in.id),
			P50: msOf(p[0]), P99: msOf(p[1])}
		if t := perService[in.service]; t > 0 {
			ir.Share = float64(attempts) / float64(t)
		}
		r.Instances = append(r.Instances, ir)
	}

	w.graphReport(r)
	r.Deliveries = w.deliveryReports()
	r.Streams = w.streamReports()

	for _, fr := range faults {
		fr.mu.Lock()
		evs := slices.Clone(fr.events)
		fr.mu.Unlock()
		for i := range evs {
			evs[i].StartSeconds = evs[i].Start.Std().Seconds()
			evs[i].EndSeconds = -1
			if evs[i].End >= 0 {
				evs[i].EndSeconds = evs[i].End.Std().Seconds()
			}
			evs[i].Touched = fr.touched.Load()
		}
		r.Faults = append(r.Faults, evs...)
	}
	slices.SortStableFunc(r.Faults, func(a, b FaultEvent) int {
		return cmp.Or(cmp.Compare(a.StartSeconds, b.StartSeconds), cmp.Compare(a.Target, b.Target))
	})
	if r.Faults == nil {
		r.Faults = []FaultEvent{}
	}

	for k := range m.nwin {
		a := m.sum(query{from: k, to: k + 1})
		wr := WindowReport{StartSeconds: (time.Duration(k) * m.window).Seconds(), Calls: a.calls, Successes: a.ok,
			Failures: a.calls - a.ok, Attempts: a.attempts, Retries: retries(a.attempts, a.calls, 0),
			P50: msOf(percentile(a.hist, 50)), P99: msOf(percentile(a.hist, 99))}
		wr.InstanceAttempts = make([]uint64, len(w.instances))
		for _, in := range w.instances {
			wr.InstanceAttempts[in.id] = m.instWindow(in.id, k)
		}
		r.Windows = append(r.Windows, wr)
	}
	for k := range r.Windows {
		wr := &r.Windows[k]
		wr.Workloads = make([]WindowSeries, 0, len(r.Workloads))
		for _, wl := range r.Workloads {
			wr.Workloads = append(wr.Workloads, windowSeries(m.sum(query{workload: wl.Name, from: k, to: k + 1})))
		}
		wr.Clients = make([]WindowSeries, 0, len(r.Clients))
		for _, c := range r.Clients {
			wr.Clients = append(wr.Clients, windowSeries(m.sum(query{client: c.Name, from: k, to: k + 1})))
		}
		wr.Edges = make([]WindowSeries, 0, len(r.Edges))
		for _, e := range r.Edges {
			wr.Edges = append(wr.Edges, windowSeries(m.sumEdges(edgeQuery{caller: e.Caller, service: e.Service, endpoint: e.Endpoint, from: k, to: k + 1})))
		}
	}
	return r
}

func retries(attempts, calls, hedges uint64) uint64 {
	if attempts < calls+hedges {
		return 0
	}
	return attempts - calls - hedges
}

// seriesReports groups series by key, in order of first appearance.
func (w *world) seriesReports(key func(*seriesStats) string) []SeriesReport {
	var out []SeriesReport
	idx := map[string]int{}
	hists := []*hdr.Histogram{}
	for _, s := range w.metrics.series {
		k := key(s)
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, SeriesReport{Name: k})
			hists = append(hists, hdr.New(1, w.metrics.highest, histDigits))
		}
		out[i].Calls += s.calls
		out[i].Successes += s.ok
		out[i].Retries += s.attempts
		hists[i].Merge(s.hist)
	}
	for i := range out {
		out[i].Failures = out[i].Calls - out[i].Successes
		out[i].Retries = retries(out[i].Retries, out[i].Calls, 0)
		out[i].Latency = latencies(hists[i])
	}
	return out
}

func latencies(h *hdr.Histogram) Latencies {
	if h == nil || h.TotalCount() == 0 {
		return Latencies{}
	}
	return Latencies{
		P50: msOf(percentile(h, 50)), P90: msOf(percentile(h, 90)), P99: msOf(percentile(h, 99)),
		P999: msOf(percentile(h, 99.9)), Max: msOf(time.Duration(h.Max()) * time.Microsecond),
		Mean: h.Mean() / 1000,
	}
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
