package main

import (
	"context"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/microsim/microsim/sim"
)

// app is simctl's environment: where output goes, how bubbles are made
// and whether the output is a terminal (for the progress bar).
type app struct {
	stdout, stderr io.Writer
	run            sim.Runner
	isTerminal     func(io.Writer) bool
	termWidth      func(io.Writer) int
	// progressDelay is how long a run goes before its bar appears (0:
	// the bar's default, a second; negative: at once).
	progressDelay time.Duration
	// oneCore, when set, is called before a single run in virtual time
	// and its result after it: the command sets it to useOneCore, tests
	// leave it nil (it changes the process's GOMAXPROCS).
	oneCore func() (restore func())
}

// useOneCore runs the Go scheduler on one processor (GOMAXPROCS=1) until
// restore is called, unless the GOMAXPROCS environment variable sets it.
// A run in virtual time is a chain of goroutines that wake one another;
// on one processor each wakes the next where it runs, and a run takes
// ~20% less wall time than with two or more, whose idle processors are
// woken to steal the work and hand it back. Runs of several seeds at
// once (--seeds) keep every processor.
func useOneCore() (restore func()) {
	if os.Getenv("GOMAXPROCS") != "" {
		return func() {}
	}
	prev := runtime.GOMAXPROCS(1)
	return func() { runtime.GOMAXPROCS(prev) }
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// termWidth is w's width in columns (80 when unknown).
func termWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
			return width
		}
	}
	return 80
}

// progress returns the Progress a run publishes into and a stop function
// to call when the run is over. A bar is drawn on stderr only when stdout
// and stderr are terminals and not --quiet; otherwise nothing is drawn.
func (a *app) progress(f *runFlags, label string) (*sim.Progress, func()) {
	p := &sim.Progress{}
	if f.quiet || !a.isTerminal(a.stdout) || !a.isTerminal(a.stderr) {
		return p, func() {}
	}
	bar := &sim.ProgressBar{Out: a.stderr, Label: label, Width: a.termWidth(a.stderr), Delay: a.progressDelay}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { bar.Run(ctx, p) })
	return p, func() {
		cancel()
		wg.Wait()
	}
}
