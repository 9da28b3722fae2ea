package sweep

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/scenario"
)

// DeterminismReport is the outcome of running one scenario several times
// with one seed: whether the reports are the same (wall time aside) and,
// if not, where they differ.
type DeterminismReport struct {
	Scenario string `json:"scenario"`
	File     string `json:"file,omitempty"`
	Seed     uint64 `json:"seed"`
	// Runs is how many times the scenario ran.
	Runs int `json:"runs"`
	// Identical is true when every run's report equals the first's.
	Identical bool `json:"identical"`
	// Diffs are the differences between the first run and the first run
	// that differs from it, by JSON path.
	Diffs []Diff `json:"diffs"`
	// Passed is whether the first run's assertions held.
	Passed bool `json:"passed"`
	// Reports are the runs' reports.
	Reports []*sim.Report `json:"-"`
}

// Diff is one difference between two reports: the JSON path of a value
// (windows[3].p99_ms) and its value in each.
type Diff struct {
	Path string `json:"path"`
	A    any    `json:"a"`
	B    any    `json:"b"`
}

func (d Diff) String() string {
	return fmt.Sprintf("%s: %s != %s", d.Path, jsonText(d.A), jsonText(d.B))
}

// CheckDeterminism runs sc runs times (at least 2) with the same seed, in
// bubbles of run, two at a time, and compares the reports with
// DiffReports. run must be safe for concurrent use (every Runner this
// package gives out is).
func CheckDeterminism(run sim.Runner, sc *scenario.Scenario, runs int, opts ...sim.RunOption) (*DeterminismReport, error) {
	runs = max(runs, 2)
	reports := make([]*sim.Report, runs)
	errs := make([]error, runs)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i := range runs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			reports[i], errs[i] = sim.RunWith(run, sc, opts...)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	first := reports[0]
	d := &DeterminismReport{Scenario: first.Scenario, File: first.File, Seed: first.Seed, Runs: runs,
		Identical: true, Diffs: []Diff{}, Passed: first.Passed, Reports: reports}
	for _, r := range reports[1:] {
		if diffs := DiffReports(first, r); len(diffs) > 0 {
			d.Identical, d.Diffs = false, diffs
			break
		}
	}
	return d, nil
}

// DiffReports compares two reports through their JSON form, ignoring
// wall_seconds, and returns every leaf that differs, in document order.
func DiffReports(a, b *sim.Report) []Diff {
	var diffs []Diff
	diffValues("", normalised(a), normalised(b), &diffs)
	return diffs
}

// normalised is a report's JSON form as generic values, wall time removed.
func normalised(r *sim.Report) any {
	c := *r
	c.WallSeconds = 0
	data, err := json.Marshal(&c)
	if err != nil {
		return err.Error()
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err.Error()
	}
	return v
}

func diffValues(path string, a, b any, out *[]Diff) {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := slices.Sorted(maps.Keys(av))
		for k := range bv {
			if _, ok := av[k]; !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			diffValues(p, av[k], bv[k], out)
		}
		return
	case []any:
		bv, ok := b.([]any)
		if !ok {
			break
		}
		for i := range max(len(av), len(bv)) {
			var x, y any
			if i < len(av) {
				x = av[i]
			}
			if i < len(bv) {
				y = bv[i]
			}
			diffValues(path+"["+strconv.Itoa(i)+"]", x, y, out)
		}
		return
	}
	if jsonText(a) != jsonText(b) {
		*out = append(*out, Diff{Path: path, A: a, B: b})
	}
}

func jsonText(v any) string {
	if v == nil {
		return "(absent)"
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

// maxDiffsShown bounds the differences WriteText lists.
const maxDiffsShown = 40

// WriteText writes the verdict and the differences for a person.
func (d *DeterminismReport) WriteText(w io.Writer) error {
	var b bytes.Buffer
	verdict := "DETERMINISTIC"
	if !d.Identical {
		verdict = "NOT DETERMINISTIC"
	}
	fmt.Fprintf(&b, "%s  %s", verdict, d.Scenario)
	if d.File != "" {
		fmt.Fprintf(&b, "  (%s)", d.File)
	}
	fmt.Fprintf(&b, "\n  seed %d, %d runs: ", d.Seed, d.Runs)
	if d.Identical {
		b.WriteString("the reports are identical (wall_seconds aside)\n")
	} else {
		fmt.Fprintf(&b, "%d value(s) differ between two runs (wall_seconds aside):\n", len(d.Diffs))
		for i, df := range d.Diffs {
			if i == maxDiffsShown {
				fmt.Fprintf(&b, "    ... and %d more\n", len(d.Diffs)-i)
				break
			}
			fmt.Fprintf(&b, "    %s\n", df)
		}
	}
	if len(d.Reports) > 0 {
		r := d.Reports[0]
		fmt.Fprintf(&b, "  the scenario %s: %d calls, %d failed, %d of %d assertions held\n",
			map[bool]string{true: "passed", false: "failed"}[r.Passed], r.Totals.Calls, r.Totals.Failures,
			len(r.Assertions)-len(r.FailedAssertions()), len(r.Assertions))
	}
	_, err := w.Write(b.Bytes())
	return err
}
