package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/report"
	"github.com/microsim/microsim/sim/scenario"
)

// network runs each scenario in real time over TCP on 127.0.0.1 and
// writes the reports as a run in virtual time would. A scenario with a
// fault the TCP backend cannot run is refused before anything runs.
func (a *app) network(f *runFlags, files []loaded) (int, error) {
	bad := false
	for _, l := range files {
		if err := sim.CheckTCP(l.sc); err != nil {
			printErrors(a.stderr, l.file, err)
			bad = true
		}
	}
	if bad {
		return exitInvalid, errReported
	}
	code := exitOK
	var outcomes []report.Outcome
	for _, l := range files {
		p, stop := a.progress(f, l.sc.Name+" (tcp, real time)")
		rep, err := sim.RunWith(sim.RealTime(), l.sc, append(f.runOptions(l.file), sim.WithProgress(p), sim.WithTCP())...)
		stop()
		if err != nil {
			return exitInvalid, err
		}
		if !rep.Passed {
			code = exitFailed
		}
		outcomes = append(outcomes, report.Outcome{File: l.file, Report: rep})
	}
	if err := a.writeOutcomes(f, outcomes); err != nil {
		return exitInvalid, err
	}
	return code, nil
}

// printErrors prints each error of an ErrorList on a line, prefixed with
// the file.
func printErrors(w io.Writer, file string, err error) {
	var list scenario.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			if e.File == "" {
				e.File = file
			}
			fmt.Fprintln(w, e)
		}
		return
	}
	fmt.Fprintf(w, "%s: %v\n", file, err)
}
