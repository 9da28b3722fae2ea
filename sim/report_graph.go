package sim

import (
	"fmt"
	"strings"
	"text/tabwriter"
)

// EdgeReport summarises the calls one service made to another service's
// endpoint (an edge of the call graph).
type EdgeReport struct {
	// Caller is the calling service; Service and Endpoint the callee.
	Caller   string `json:"caller"`
	Service  string `json:"service"`
	Endpoint string `json:"endpoint"`
	// Calls finished (Successes + Failures); Cancelled calls are those a
	// step cancelled once it had the results it needed, counted apart.
	Calls     uint64 `json:"calls"`
	Successes uint64 `json:"successes"`
	Failures  uint64 `json:"failures"`
	Cancelled uint64 `json:"cancelled"`
	// Attempts sent for those calls; Retries is Attempts - Calls (hedges
	// included).
	Attempts uint64 `json:"attempts"`
	Retries  uint64 `json:"retries"`
	// Latency of the calls as the caller saw them, retries included.
	Latency Latencies `json:"latency"`
}

// TierReport is the load that reached one service: every attempt sent
// to its instances, by the workloads' clients and by other services.
type TierReport struct {
	Service  string `json:"service"`
	Attempts uint64 `json:"attempts"`
	Failures uint64 `json:"failures"`
	// AttemptsPerCall is Attempts per top-level call (a workload's call):
	// the amplification of load at this tier.
	AttemptsPerCall float64 `json:"attempts_per_call"`
}

// graphReport fills r's edges and tiers.
func (w *world) graphReport(r *Report) {
	r.Edges = []EdgeReport{}
	for _, s := range w.metrics.edges {
		svc, ep, _ := strings.Cut(s.endpoint, "/")
		r.Edges = append(r.Edges, EdgeReport{Caller: s.workload, Service: svc, Endpoint: ep,
			Calls: s.calls, Successes: s.ok, Failures: s.calls - s.ok, Cancelled: s.cancelled,
			Attempts: s.attempts, Retries: retries(s.attempts, s.calls, 0), Latency: latencies(s.hist)})
	}
	// One pass over the instances the report already sums.
	r.Tiers = make([]TierReport, len(w.sc.Topology.Services))
	tier := make(map[string]*TierReport, len(r.Tiers))
	for i, s := range w.sc.Topology.Services {
		r.Tiers[i].Service = s.Name
		tier[s.Name] = &r.Tiers[i]
	}
	for _, in := range r.Instances {
		t := tier[in.Service]
		t.Attempts += in.Attempts
		t.Failures += in.Failures
	}
	for i := range r.Tiers {
		r.Tiers[i].AttemptsPerCall = ratio(r.Tiers[i].Attempts, r.Totals.Calls)
	}
}

// writeGraphText writes the call graph's edges and tiers for a person
// (nothing when the scenario has no edge).
func (r *Report) writeGraphText(b *strings.Builder) {
	if len(r.Edges) == 0 {
		return
	}
	b.WriteString("\nCall graph (calls between services)\n")
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  edge\tcalls\tfailed\tcancelled\tretries\tp50\tp99\t")
	for _, e := range r.Edges {
		fmt.Fprintf(tw, "  %s -> %s/%s\t%d\t%d\t%d\t%d\t%.2fms\t%.2fms\t\n", e.Caller, e.Service, e.Endpoint,
			e.Calls, e.Failures, e.Cancelled, e.Retries, e.Latency.P50, e.Latency.P99)
	}
	_ = tw.Flush()
	b.WriteString("\nLoad per tier (attempts per top-level call)\n")
	tw = tabwriter.NewWriter(b, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  service\tattempts\tfailed\tper call\t")
	for _, t := range r.Tiers {
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%.3f\t\n", t.Service, t.Attempts, t.Failures, t.AttemptsPerCall)
	}
	_ = tw.Flush()
}

// edgeQuery selects edges: by caller (any when ""), callee service and
// endpoint (any when "").
type edgeQuery struct {
	caller, service, endpoint string
	from, to                  int
}

func (q edgeQuery) match(s *seriesStats) bool {
	svc, ep, _ := strings.Cut(s.endpoint, "/")
	return (q.caller == "" || q.caller == s.workload) && q.service == svc && (q.endpoint == "" || q.endpoint == ep)
}

// sumEdges aggregates the matching edges over windows [q.from, q.to).
func (m *metrics) sumEdges(q edgeQuery) agg { return m.sumOf(m.edges, q.match, q.from, q.to) }

// wholeEdges aggregates the matching edges over the whole run with the
// precise histograms.
func (m *metrics) wholeEdges(q edgeQuery) agg { return m.wholeOf(m.edges, q.match) }
