package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/report"
	"github.com/microsim/microsim/sim/scenario"
)

// runFlags are the flags of simctl run.
type runFlags struct {
	seed        uint64
	seedSet     bool
	format      string
	out         string
	quiet       bool
	seeds       string
	parallel    int
	determinism bool
	network     string
	trace       string // OTLP JSON traces of the run
	metrics     string // the run's metrics
	metricsFmt  string
}

// Networks --network accepts.
const (
	networkSim = "sim"
	networkTCP = "tcp"
)

const runLong = `Run scenario files and report whether their assertions held.

By default each file runs once, in virtual time, on the in-memory network,
with the file's seed (or --seed). Other modes:

  --seeds A-B            run each file once per seed A..B, several at a time,
                         and print which seeds failed which assertion, the
                         spread of the key figures and the command that
                         replays a failing seed (format text, json or junit)
  --check-determinism    run each file twice with the same seed and say where
                         the reports differ (format text or json)
  --network tcp          run in real time over the TCP transport on 127.0.0.1
                         (in-memory registry); only some fault kinds can run
                         there, the others are refused

Observability of a single run (one file, one seed, in virtual time):

  --trace FILE           write the run's traces as OTLP JSON: every failed
                         call, every call that took more than one attempt,
                         and one in 100 of the others, with virtual-time
                         timestamps (bounded: 1,000 failed, 500 retried,
                         200 sampled traces)
  --metrics FILE         write the world's Prometheus metrics at the end of
                         the run, as OpenMetrics text (--metrics-format text
                         for Prometheus's text format, which promtool reads)

With --trace the HTML report shows, under each failed assertion, the
trace of a representative call as a waterfall.

A progress bar is drawn on stderr for runs that take more than a second
when stdout and stderr are terminals, unless --quiet.

A single run in virtual time uses one processor (GOMAXPROCS=1), on which
it takes about a fifth less wall time than on several; set the
GOMAXPROCS environment variable to choose otherwise.

Exit codes: 0 every assertion held (and, with --check-determinism, the
reports are identical); 1 an assertion failed for some run (or the reports
differ); 2 invalid input or usage.`

func runCmd(app *app, setCode func(int)) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run FILE...",
		Short: "Run scenario files and report whether their assertions held",
		Long:  runLong,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			f.seedSet = cmd.Flags().Changed("seed")
			if err := f.check(); err != nil {
				setCode(exitInvalid)
				return err
			}
			loaded, ok := loadFiles(app.stderr, files)
			if !ok {
				setCode(exitInvalid)
				if f.format == report.FormatJUnit {
					outcomes := make([]report.Outcome, len(loaded))
					for i, l := range loaded {
						outcomes[i] = report.Outcome{File: l.file, Err: l.err, Skipped: "not run: another file is invalid"}
					}
					if err := app.writeOut(f.out, func(w io.Writer) error { return report.WriteJUnit(w, outcomes...) }); err != nil {
						return err
					}
				}
				return errReported
			}
			var code int
			var err error
			switch {
			case f.seeds != "":
				code, err = app.sweep(&f, loaded)
			case f.determinism:
				code, err = app.determinism(&f, loaded)
			case f.network == networkTCP:
				code, err = app.network(&f, loaded)
			default:
				code, err = app.runOnce(&f, loaded)
			}
			setCode(code)
			return err
		},
	}
	fl := cmd.Flags()
	fl.Uint64Var(&f.seed, "seed", 0, "seed for every random stream (default: the scenario's seed)")
	fl.StringVar(&f.format, "format", report.FormatText, "report format: "+strings.Join(report.Formats(), ", "))
	fl.StringVar(&f.out, "out", "", "write the report to this file instead of stdout")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "draw no progress bar")
	fl.StringVar(&f.seeds, "seeds", "", "run once per seed of the range A-B (for example 1-50) and summarise")
	fl.IntVar(&f.parallel, "parallel", 0, "runs at once with --seeds (default: one per CPU)")
	fl.BoolVar(&f.determinism, "check-determinism", false, "run twice with the same seed and compare the reports")
	fl.StringVar(&f.network, "network", networkSim, "sim (virtual time, in-memory network) or tcp (real time over TCP on 127.0.0.1)")
	fl.StringVar(&f.trace, "trace", "", "write the run's traces to this file as OTLP JSON")
	fl.StringVar(&f.metrics, "metrics", "", "write the run's Prometheus metrics to this file")
	fl.StringVar(&f.metricsFmt, "metrics-format", sim.MetricsOpenMetrics, "format of --metrics: openmetrics or text")
	return cmd
}

// check refuses flags that do not go together.
func (f *runFlags) check() error {
	if !slices.Contains(report.Formats(), f.format) {
		return fmt.Errorf("unknown format %q (known: %s)", f.format, strings.Join(report.Formats(), ", "))
	}
	if f.network != networkSim && f.network != networkTCP {
		return fmt.Errorf("unknown network %q (known: %s, %s)", f.network, networkSim, networkTCP)
	}
	if f.parallel < 0 {
		return fmt.Errorf("--parallel must be >= 0, got %d", f.parallel)
	}
	modes := 0
	for _, on := range []bool{f.seeds != "", f.determinism, f.network == networkTCP} {
		if on {
			modes++
		}
	}
	switch {
	case modes > 1:
		return fmt.Errorf("--seeds, --check-determinism and --network tcp are separate modes: use one at a time")
	case f.seeds != "" && f.seedSet:
		return fmt.Errorf("--seed and --seeds exclude each other")
	case f.seeds != "" && f.format == report.FormatHTML:
		return fmt.Errorf("--format html shows one run per scenario; with --seeds use text, json or junit (and replay a seed with --seed N --format html)")
	case f.determinism && f.format != report.FormatText && f.format != report.FormatJSON:
		return fmt.Errorf("--check-determinism writes text or json, not %s", f.format)
	case (f.trace != "" || f.metrics != "") && modes > 0:
		return fmt.Errorf("--trace and --metrics observe a single run: not with --seeds, --check-determinism or --network tcp")
	case f.metricsFmt != sim.MetricsOpenMetrics && f.metricsFmt != sim.MetricsText:
		return fmt.Errorf("unknown --metrics-format %q (known: %s, %s)", f.metricsFmt, sim.MetricsOpenMetrics, sim.MetricsText)
	}
	return nil
}

// loaded is one scenario file, loaded or not.
type loaded struct {
	file string
	sc   *scenario.Scenario
	err  error
}

// loadFiles loads every file, printing every problem of every file.
func loadFiles(stderr io.Writer, files []string) ([]loaded, bool) {
	ok := true
	out := make([]loaded, 0, len(files))
	for _, f := range files {
		sc, err := scenario.Load(f)
		if err != nil {
			fmt.Fprintln(stderr, err)
			ok = false
		}
		out = append(out, loaded{file: f, sc: sc, err: err})
	}
	return out, ok
}

// runOptions are the options every run of f gets.
func (f *runFlags) runOptions(file string) []sim.RunOption {
	opts := []sim.RunOption{sim.WithFile(file)}
	if f.seedSet {
		opts = append(opts, sim.WithSeed(f.seed))
	}
	return opts
}

// runOnce runs each scenario once in virtual time and writes the reports.
func (a *app) runOnce(f *runFlags, files []loaded) (int, error) {
	if a.oneCore != nil {
		defer a.oneCore()()
	}
	code := exitOK
	var outcomes []report.Outcome
	observe := f.trace != "" || f.metrics != ""
	if observe && len(files) != 1 {
		return exitInvalid, fmt.Errorf("--trace and --metrics observe one run: give one file, not %d", len(files))
	}
	for _, l := range files {
		p, stop := a.progress(f, l.sc.Name)
		opts := append(f.runOptions(l.file), sim.WithProgress(p))
		var obs *sim.Observation
		if observe {
			var err error
			if obs, err = sim.NewObservation(); err != nil {
				stop()
				return exitInvalid, err
			}
			opts = append(opts, sim.WithObservation(obs))
		}
		rep, err := sim.RunWith(a.run, l.sc, opts...)
		stop()
		if err == nil && obs != nil {
			err = a.writeObservation(f, l.sc.Name, obs)
		}
		if err != nil {
			if f.format != report.FormatJUnit {
				return exitInvalid, err
			}
			fmt.Fprintln(a.stderr, err)
			code = exitInvalid
			outcomes = append(outcomes, report.Outcome{File: l.file, Err: err})
			continue
		}
		if !rep.Passed {
			code = max(code, exitFailed)
		}
		outcomes = append(outcomes, report.Outcome{File: l.file, Report: rep})
	}
	if err := a.writeOutcomes(f, outcomes); err != nil {
		return exitInvalid, err
	}
	return code, nil
}

// writeOutcomes writes the reports of one run per scenario to --out or
// stdout, in --format (JUnit takes the outcomes with their files).
func (a *app) writeOutcomes(f *runFlags, outcomes []report.Outcome) error {
	return a.writeOut(f.out, func(w io.Writer) error {
		if f.format == report.FormatJUnit {
			return report.WriteJUnit(w, outcomes...)
		}
		reports := make([]*sim.Report, len(outcomes))
		for i, o := range outcomes {
			reports[i] = o.Report
		}
		return report.Write(w, f.format, reports...)
	})
}

// writeOut writes to --out (created or truncated) or to stdout.
func (a *app) writeOut(out string, write func(io.Writer) error) error {
	if out == "" {
		if err := write(a.stdout); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		return nil
	}
	file, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if err := write(file); err != nil {
		_ = file.Close()
		return fmt.Errorf("write report: %w", err)
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	fmt.Fprintf(a.stderr, "simctl: wrote the report to %s\n", out)
	return nil
}

// writeObservation writes the traces and metrics --trace and --metrics ask for.
func (a *app) writeObservation(f *runFlags, scenario string, obs *sim.Observation) error {
	if f.trace != "" {
		if err := a.writeFile(f.trace, "traces", func(w io.Writer) error { return obs.WriteOTLP(w, scenario) }); err != nil {
			return fmt.Errorf("--trace: %w", err)
		}
	}
	if f.metrics != "" {
		if err := a.writeFile(f.metrics, "metrics", func(w io.Writer) error { return obs.WriteMetrics(w, f.metricsFmt) }); err != nil {
			return fmt.Errorf("--metrics: %w", err)
		}
	}
	return nil
}

// writeFile writes a file and says so on stderr.
func (a *app) writeFile(path, what string, write func(io.Writer) error) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(file); err != nil {
		_ = file.Close()
		return err
	}
	if err := file.Close(); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "simctl: wrote the %s to %s\n", what, path)
	return nil
}
