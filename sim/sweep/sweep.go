package sweep

import (
	"cmp"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/scenario"
)

// A seed sweep runs one scenario once per seed, several runs at a time
// (each in its own bubble), and summarises which seeds failed which
// assertion and how the key figures spread across seeds.

// Report is the outcome of a seed sweep.
type Report struct {
	Scenario string `json:"scenario"`
	File     string `json:"file,omitempty"`
	// Seeds are the seeds run, in order; Failed those whose run failed.
	Seeds  []uint64 `json:"seeds"`
	Failed []uint64 `json:"failed_seeds"`
	// Passed is true when every seed's run passed.
	Passed bool `json:"passed"`
	// Parallel is how many runs went at once; WallSeconds the sweep's
	// real time.
	Parallel    int     `json:"parallel"`
	WallSeconds float64 `json:"wall_seconds"`
	// Assertions has one entry per assertion of the scenario.
	Assertions []Assertion `json:"assertions"`
	// Figures are the spread of the key figures across seeds.
	Figures []Spread `json:"figures"`
	// Reports are the runs' reports, in the order of Seeds.
	Reports []*sim.Report `json:"-"`
}

// Assertion is one assertion across the seeds.
type Assertion struct {
	Name string `json:"name"`
	// Failed lists the seeds for which it did not hold.
	Failed []uint64 `json:"failed_seeds"`
	// Observed is the spread of its observed value.
	Observed Spread `json:"observed"`
}

// Spread is a figure's minimum, median and maximum across seeds, with the
// seeds that gave the extremes.
type Spread struct {
	Name    string  `json:"name"`
	Unit    string  `json:"unit"`
	Min     float64 `json:"min"`
	Median  float64 `json:"median"`
	Max     float64 `json:"max"`
	MinSeed uint64  `json:"min_seed"`
	MaxSeed uint64  `json:"max_seed"`
}

// ParseSeedRange parses "A-B" (or a single seed "A") into the seeds A..B.
func ParseSeedRange(s string) ([]uint64, error) {
	lo, hi, found := strings.Cut(strings.TrimSpace(s), "-")
	a, err := strconv.ParseUint(strings.TrimSpace(lo), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("seed range %q: want A-B with 0 <= A <= B, for example 1-50", s)
	}
	b := a
	if found {
		if b, err = strconv.ParseUint(strings.TrimSpace(hi), 10, 64); err != nil {
			return nil, fmt.Errorf("seed range %q: want A-B with 0 <= A <= B, for example 1-50", s)
		}
	}
	if b < a {
		return nil, fmt.Errorf("seed range %q: the first seed is larger than the last", s)
	}
	if b-a >= 100000 {
		return nil, fmt.Errorf("seed range %q: at most 100000 seeds", s)
	}
	out := make([]uint64, 0, b-a+1)
	for x := a; ; x++ {
		out = append(out, x)
		if x == b {
			break
		}
	}
	return out, nil
}

// Seeds runs sc once per seed, parallel runs at a time (0: one per CPU),
// each in a bubble of run, and summarises the runs. run must be safe for
// concurrent use (every Runner this package gives out is). It blocks
// until every run has ended; an error of any run is returned.
func Seeds(run sim.Runner, sc *scenario.Scenario, seeds []uint64, parallel int, opts ...sim.RunOption) (*Report, error) {
	if len(seeds) == 0 {
		return nil, fmt.Errorf("sweep: no seeds")
	}
	if parallel <= 0 {
		parallel = runtime.GOMAXPROCS(0)
	}
	parallel = min(parallel, len(seeds))
	start := time.Now()
	reports := make([]*sim.Report, len(seeds))
	errs := make([]error, len(seeds))
	next := make(chan int)
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for i := range next {
				o := append(slices.Clone(opts), sim.WithSeed(seeds[i]))
				reports[i], errs[i] = sim.RunWith(run, sc, o...)
			}
		})
	}
	for i := range seeds {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("seed %d: %w", seeds[i], err)
		}
	}
	s := summarise(reports)
	s.Parallel = parallel
	s.WallSeconds = time.Since(start).Seconds()
	return s, nil
}

// summarise builds a Report from the reports of one scenario.
func summarise(reports []*sim.Report) *Report {
	s := &Report{Scenario: reports[0].Scenario, File: reports[0].File, Passed: true, Reports: reports,
		Failed: []uint64{}, Assertions: []Assertion{}}
	for _, r := range reports {
		s.Seeds = append(s.Seeds, r.Seed)
		if !r.Passed {
			s.Passed = false
			s.Failed = append(s.Failed, r.Seed)
		}
	}
	for k, a := range reports[0].Assertions {
		sa := Assertion{Name: a.Name, Failed: []uint64{}}
		vals := make([]seedValue, 0, len(reports))
		for _, r := range reports {
			if k >= len(r.Assertions) {
				continue
			}
			if !r.Assertions[k].Passed {
				sa.Failed = append(sa.Failed, r.Seed)
			}
			vals = append(vals, seedValue{r.Seed, r.Assertions[k].Value})
		}
		sa.Observed = spreadOf(a.Name, a.Unit, vals)
		s.Assertions = append(s.Assertions, sa)
	}
	figure := func(name, unit string, f func(*sim.Report) float64) {
		vals := make([]seedValue, 0, len(reports))
		for _, r := range reports {
			vals = append(vals, seedValue{r.Seed, f(r)})
		}
		s.Figures = append(s.Figures, spreadOf(name, unit, vals))
	}
	figure("calls", "count", func(r *sim.Report) float64 { return float64(r.Totals.Calls) })
	figure("success rate", "ratio", func(r *sim.Report) float64 { return ratio(r.Totals.Successes, r.Totals.Calls) })
	figure("failures", "count", func(r *sim.Report) float64 { return float64(r.Totals.Failures) })
	figure("p50 latency", "ms", func(r *sim.Report) float64 { return r.Latency.P50 })
	figure("p99 latency", "ms", func(r *sim.Report) float64 { return r.Latency.P99 })
	figure("max latency", "ms", func(r *sim.Report) float64 { return r.Latency.Max })
	figure("retries", "count", func(r *sim.Report) float64 { return float64(r.Totals.Retries) })
	figure("hedges", "count", func(r *sim.Report) float64 { return float64(r.Totals.Hedges) })
	figure("ejections", "count", func(r *sim.Report) float64 { return float64(r.Totals.Ejections) })
	figure("virtual time", "s", func(r *sim.Report) float64 { return r.VirtualSeconds })
	return s
}

// ratio is a/b, 0 when b is 0.
func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

type seedValue struct {
	seed uint64
	v    float64
}

func spreadOf(name, unit string, vals []seedValue) Spread {
	sp := Spread{Name: name, Unit: unit}
	if len(vals) == 0 {
		return sp
	}
	sorted := slices.SortedStableFunc(slices.Values(vals), func(a, b seedValue) int { return cmp.Compare(a.v, b.v) })
	sp.Min, sp.MinSeed = sorted[0].v, sorted[0].seed
	sp.Max, sp.MaxSeed = sorted[len(sorted)-1].v, sorted[len(sorted)-1].seed
	n := len(sorted)
	if n%2 == 1 {
		sp.Median = sorted[n/2].v
	} else {
		sp.Median = (sorted[n/2-1].v + sorted[n/2].v) / 2
	}
	return sp
}

// formatValue renders a value in its unit.
func formatValue(v float64, unit string) string {
	switch unit {
	case "ratio":
		return sim.Percent(v)
	case "ms":
		return fmt.Sprintf("%.2fms", v)
	case "s":
		return fmt.Sprintf("%.2fs", v)
	case "count":
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// SeedList formats seeds compactly: 1-3, 7, 9-10.
func SeedList(seeds []uint64) string {
	if len(seeds) == 0 {
		return "-"
	}
	var parts []string
	for i := 0; i < len(seeds); {
		j := i
		for j+1 < len(seeds) && seeds[j+1] == seeds[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", seeds[i], seeds[j]))
		} else {
			parts = append(parts, strconv.FormatUint(seeds[i], 10))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// maxReplays bounds the replay commands WriteText prints.
const maxReplays = 5

// WriteText writes the sweep for a person: the verdict, which seeds
// failed which assertion, the spread of the key figures and, for failing
// seeds, the command that replays each (replay returns it; nil prints
// none).
func (s *Report) WriteText(w io.Writer, replay func(seed uint64) string) error {
	var b strings.Builder
	verdict := "PASS"
	if !s.Passed {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "%s  %s", verdict, s.Scenario)
	if s.File != "" {
		fmt.Fprintf(&b, "  (%s)", s.File)
	}
	fmt.Fprintf(&b, "\n  seeds %s: %d runs, %d passed, %d failed; %d at a time, %.2fs wall\n\n",
		SeedList(s.Seeds), len(s.Seeds), len(s.Seeds)-len(s.Failed), len(s.Failed), s.Parallel, s.WallSeconds)

	b.WriteString("Assertions across seeds\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  assertion\tfailed\tobserved min / median / max\tfailing seeds")
	if len(s.Assertions) == 0 {
		fmt.Fprintln(tw, "  (none)\t\t\t")
	}
	for _, a := range s.Assertions {
		o := a.Observed
		fmt.Fprintf(tw, "  %s\t%d/%d\t%s / %s / %s\t%s\n", a.Name, len(a.Failed), len(s.Seeds),
			formatValue(o.Min, o.Unit), formatValue(o.Median, o.Unit), formatValue(o.Max, o.Unit), SeedList(a.Failed))
	}
	_ = tw.Flush()

	b.WriteString("\nKey figures across seeds\n")
	tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  figure\tmin\tmedian\tmax\tmin at seed\tmax at seed\t")
	for _, f := range s.Figures {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%d\t\n", f.Name, formatValue(f.Min, f.Unit), formatValue(f.Median, f.Unit),
			formatValue(f.Max, f.Unit), f.MinSeed, f.MaxSeed)
	}
	_ = tw.Flush()

	if len(s.Failed) > 0 && replay != nil {
		b.WriteString("\nReplay a failing seed\n")
		for i, seed := range s.Failed {
			if i == maxReplays {
				fmt.Fprintf(&b, "  ... and %d more failing seeds: %s\n", len(s.Failed)-i, SeedList(s.Failed[i:]))
				break
			}
			fmt.Fprintf(&b, "  %s\n", replay(seed))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
