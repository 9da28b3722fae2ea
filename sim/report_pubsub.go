package sim

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/microsim/microsim/sim/scenario"
)

// DeliveryReport is what one subscribing service received of a topic.
type DeliveryReport struct {
	Topic   string `json:"topic"`
	Service string `json:"service"`
	// Published is the events published on the topic (Publish returned
	// nil); PublishFailures the publications that failed.
	Published       uint64 `json:"published"`
	PublishFailures uint64 `json:"publish_failures"`
	// Delivered counts handler runs; Unique the distinct events among
	// them; Duplicates = Delivered - Unique; Lost = Published - Unique
	// (never delivered, dropped or still queued at the end); Failures the
	// handler runs that failed (not redelivered).
	Delivered  uint64 `json:"delivered"`
	Unique     uint64 `json:"unique"`
	Duplicates uint64 `json:"duplicates"`
	Lost       uint64 `json:"lost"`
	Failures   uint64 `json:"failures"`
	// Lag is publish to handler start.
	Lag Latencies `json:"lag"`
}

// deliveryReports builds the deliveries of every topic, subscribing
// services in scenario order.
func (w *world) deliveryReports() []DeliveryReport {
	out := []DeliveryReport{}
	for _, t := range w.metrics.topics {
		for _, s := range w.sc.Topology.Services {
			if !s.Subscribes(t.topic) {
				continue
			}
			out = append(out, w.deliveryReport(t, s.Name))
		}
	}
	return out
}

func (w *world) deliveryReport(t *topicStats, service string) DeliveryReport {
	r := DeliveryReport{Topic: t.topic, Service: service, Published: t.published, PublishFailures: t.pubFailures}
	d := t.subs[service]
	if d == nil {
		r.Lost = t.published
		return r
	}
	r.Delivered, r.Unique, r.Failures = d.deliveries, uint64(len(d.seen)), d.failures
	r.Duplicates = r.Delivered - r.Unique
	if r.Published > r.Unique {
		r.Lost = r.Published - r.Unique
	}
	r.Lag = latencies(d.lag)
	return r
}

// writeDeliveryText writes the deliveries for a person (nothing without
// events).
func (r *Report) writeDeliveryText(b *strings.Builder) {
	if len(r.Deliveries) == 0 {
		return
	}
	b.WriteString("\nEvents (per topic and subscribing service)\n")
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  topic -> service\tpublished\tdelivered\tduplicates\tlost\tfailed\tlag p50\tlag p99\t")
	for _, d := range r.Deliveries {
		fmt.Fprintf(tw, "  %s -> %s\t%d\t%d\t%d\t%d\t%d\t%.2fms\t%.2fms\t\n", d.Topic, d.Service,
			d.Published, d.Delivered, d.Duplicates, d.Lost, d.Failures, d.Lag.P50, d.Lag.P99)
	}
	_ = tw.Flush()
}

// checkDelivery evaluates a delivery assertion over the whole run.
func (w *world) checkDelivery(c *scenario.DeliveryCheck) AssertionResult {
	r := AssertionResult{Name: fmt.Sprintf("delivery of %s to %s", c.Topic, c.Service)}
	var d DeliveryReport
	var lags *deliveryStats
	for _, t := range w.metrics.topics {
		if t.topic == c.Topic {
			d, lags = w.deliveryReport(t, c.Service), t.subs[c.Service]
		}
	}
	if d.Published == 0 {
		r.Observed, r.Detail = "no events", "nothing was published on "+c.Topic
		return r
	}
	b := checks{r: &r}
	if c.MinRatio != nil {
		got := float64(d.Unique) / float64(d.Published)
		b.add(got, "ratio", pct(got)+" delivered", ">= "+pct(*c.MinRatio)+" delivered", got >= *c.MinRatio)
	}
	count := func(what string, n uint64, lo, hi *int64) {
		var exp []string
		held := true
		if lo != nil {
			exp, held = append(exp, fmt.Sprintf(">= %d %s", *lo, what)), held && int64(n) >= *lo
		}
		if hi != nil {
			exp, held = append(exp, fmt.Sprintf("<= %d %s", *hi, what)), held && int64(n) <= *hi
		}
		if len(exp) > 0 {
			b.add(float64(n), "count", fmt.Sprintf("%d %s", n, what), joinAnd(exp), held)
		}
	}
	count("duplicates", d.Duplicates, nil, c.MaxDuplicates)
	count("lost", d.Lost, c.MinLost, c.MaxLost)
	if c.Percentile != 0 {
		var lag time.Duration
		if lags != nil {
			lag = percentile(lags.lag, c.Percentile)
		}
		b.add(msOf(lag), "ms", fmt.Sprintf("lag p%g %s", c.Percentile, ms(lag)), fmt.Sprintf("lag p%g <= %v", c.Percentile, c.MaxLag), lag <= c.MaxLag.Std())
	}
	b.done(fmt.Sprintf("%d published, %d delivered (%d distinct), %d duplicates, %d lost, %d handler failures",
		d.Published, d.Delivered, d.Unique, d.Duplicates, d.Lost, d.Failures))
	return r
}

// faultWarnings names the faults that changed nothing: a fault that
// silently matches nothing would let a scenario pass while proving
// nothing, so the report says so (and the text report prints it).
func (w *world) faultWarnings(faults []*faultRun) []string {
	out := []string{}
	for _, fr := range faults {
		if fr.touched.Load() > 0 {
			continue
		}
		kind := fr.spec.Kind()
		why := "nothing matched it while it was active"
		switch kind {
		case "slow", "errors":
			why = "no call or event reached its target while it was active"
			if s := fr.spec.Slow; s != nil && s.Add == (scenario.Latency{}) {
				why += " (or every handler it reached took no virtual time: a factor multiplies zero; use add)"
			}
		case "broker":
			why = "its hosts published nothing on its topic while it was active"
		}
		out = append(out, fmt.Sprintf("fault %s (%s) changed nothing: %s", fr.name, kind, why))
	}
	return out
}
