package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/report"
	"github.com/microsim/microsim/sim/sweep"
)

// sweep runs each scenario once per seed of --seeds and prints the
// summary; exit 1 when any seed failed.
func (a *app) sweep(f *runFlags, files []loaded) (int, error) {
	seeds, err := sweep.ParseSeedRange(f.seeds)
	if err != nil {
		return exitInvalid, fmt.Errorf("--seeds: %w", err)
	}
	code := exitOK
	var sweeps []*sweep.Report
	for _, l := range files {
		p, stop := a.progress(f, l.sc.Name)
		p.ExpectRuns(len(seeds))
		s, err := sweep.Seeds(a.run, l.sc, seeds, f.parallel, sim.WithFile(l.file), sim.WithProgress(p))
		stop()
		if err != nil {
			return exitInvalid, err
		}
		if !s.Passed {
			code = exitFailed
		}
		sweeps = append(sweeps, s)
	}
	err = a.writeOut(f.out, func(w io.Writer) error {
		switch f.format {
		case report.FormatJSON:
			for _, s := range sweeps {
				if err := writeJSON(w, s); err != nil {
					return err
				}
			}
			return nil
		case report.FormatJUnit:
			var outcomes []report.Outcome
			for _, s := range sweeps {
				for _, r := range s.Reports {
					outcomes = append(outcomes, report.Outcome{File: r.File, Report: r, Suffix: fmt.Sprintf(" [seed %d]", r.Seed)})
				}
			}
			return report.WriteJUnit(w, outcomes...)
		}
		for i, s := range sweeps {
			if i > 0 {
				if _, err := io.WriteString(w, "\n"); err != nil {
					return err
				}
			}
			if err := s.WriteText(w, func(seed uint64) string { return replayCommand(seed, s.File) }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return exitInvalid, err
	}
	return code, nil
}

// replayCommand is the command that runs one seed of a file again.
func replayCommand(seed uint64, file string) string {
	return "simctl run --seed " + strconv.FormatUint(seed, 10) + " " + shellQuote(file)
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// determinism runs each scenario twice with one seed and compares the
// reports; exit 1 when they differ.
func (a *app) determinism(f *runFlags, files []loaded) (int, error) {
	code := exitOK
	var results []*sweep.DeterminismReport
	for _, l := range files {
		p, stop := a.progress(f, l.sc.Name)
		p.ExpectRuns(2)
		d, err := sweep.CheckDeterminism(a.run, l.sc, 2, append(f.runOptions(l.file), sim.WithProgress(p))...)
		stop()
		if err != nil {
			return exitInvalid, err
		}
		if !d.Identical {
			code = exitFailed
		}
		results = append(results, d)
	}
	err := a.writeOut(f.out, func(w io.Writer) error {
		for _, d := range results {
			var err error
			if f.format == report.FormatJSON {
				err = writeJSON(w, d)
			} else {
				err = d.WriteText(w)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return exitInvalid, err
	}
	return code, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
