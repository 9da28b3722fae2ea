package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes r as one indented JSON object (the schema in
// scenarios/README.md).
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes r for a person: a summary, the assertions with
// observed and expected values, the traffic per instance and the fault
// timeline.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	verdict := "PASS"
	if !r.Passed {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "%s  %s", verdict, r.Scenario)
	if r.File != "" {
		fmt.Fprintf(&b, "  (%s)", r.File)
	}
	b.WriteString("\n")
	if r.Description != "" {
		fmt.Fprintf(&b, "  %s\n", FirstSentence(r.Description))
	}
	if r.Network == NetworkTCP {
		fmt.Fprintf(&b, "  seed %d, %.1fs in real time over TCP on 127.0.0.1\n\n", r.Seed, r.WallSeconds)
	} else {
		speed := ""
		if r.WallSeconds > 0 {
			speed = fmt.Sprintf(", %.0fx real time", r.VirtualSeconds/r.WallSeconds)
		}
		fmt.Fprintf(&b, "  seed %d, %.1fs virtual in %.2fs wall%s\n\n", r.Seed, r.VirtualSeconds, r.WallSeconds, speed)
	}

	t := r.Totals
	b.WriteString("Summary\n")
	fmt.Fprintf(&b, "  calls %d, succeeded %d (%s), failed %d\n", t.Calls, t.Successes, pct(ratio(t.Successes, t.Calls)), t.Failures)
	fmt.Fprintf(&b, "  attempts %d, retries %d (%.3f per call), hedges %d, ejections %d\n",
		t.Attempts, t.Retries, ratio(t.Retries, t.Calls), t.Hedges, t.Ejections)
	l := r.Latency
	fmt.Fprintf(&b, "  latency p50 %.2fms  p90 %.2fms  p99 %.2fms  p99.9 %.2fms  max %.2fms\n", l.P50, l.P90, l.P99, l.P999, l.Max)
	if len(r.FailuresByCode) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(r.FailuresByCode)) {
			parts = append(parts, fmt.Sprintf("%s %d", k, r.FailuresByCode[k]))
		}
		fmt.Fprintf(&b, "  failures by code: %s\n", strings.Join(parts, ", "))
	}
	if len(r.Endpoints) > 1 {
		for _, e := range r.Endpoints {
			fmt.Fprintf(&b, "  %s: calls %d, failed %d, p50 %.2fms, p99 %.2fms\n", e.Name, e.Calls, e.Failures, e.Latency.P50, e.Latency.P99)
		}
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(&b, "  WARNING: %s\n", warn)
	}
	b.WriteString("\nAssertions\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	if len(r.Assertions) == 0 {
		fmt.Fprintln(tw, "  (none)")
	}
	for _, a := range r.Assertions {
		v := "PASS"
		if !a.Passed {
			v = "FAIL"
		}
		fmt.Fprintf(tw, "  %s\t%s\tobserved %s\texpected %s\n", v, a.Name, a.Observed, a.Expected)
		if !a.Passed && a.Detail != "" {
			fmt.Fprintf(tw, "  \t  %s\t\t\n", a.Detail)
		}
	}
	_ = tw.Flush()

	b.WriteString("\nTraffic per instance (attempts)\n")
	tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  instance\tzone\tattempts\tshare\tfailed\tp50\tp99\t")
	for _, in := range r.Instances {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%d\t%.2fms\t%.2fms\t\n", in.Name, orDash(in.Zone), in.Attempts, pct(in.Share), in.Failures, in.P50, in.P99)
	}
	_ = tw.Flush()

	r.writeGraphText(&b)
	r.writeDeliveryText(&b)
	r.writeStreamText(&b)

	b.WriteString("\nFault timeline\n")
	if len(r.Faults) == 0 {
		b.WriteString("  (no faults)\n")
	}
	for _, f := range r.Faults {
		end := "end of run"
		if f.EndSeconds >= 0 {
			end = fmt.Sprintf("%.1fs", f.EndSeconds)
		}
		fmt.Fprintf(&b, "  %7.1fs - %-10s  %-14s %-8s %s\n", f.StartSeconds, end, f.Fault, f.Kind, f.Target)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// FirstSentence is a description's first sentence on one line (the whole
// description when it has one sentence): what `simctl list` and the text
// report print, never cut mid-sentence.
func FirstSentence(desc string) string {
	desc = strings.Join(strings.Fields(desc), " ")
	if i := strings.Index(desc, ". "); i >= 0 {
		desc = desc[:i+1]
	}
	return desc
}

// FailedAssertions lists the failed assertions.
func (r *Report) FailedAssertions() []AssertionResult {
	var out []AssertionResult
	for _, a := range r.Assertions {
		if !a.Passed {
			out = append(out, a)
		}
	}
	return slices.Clip(out)
}
