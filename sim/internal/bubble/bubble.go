// Package bubble hosts testing/synctest bubbles, where time is virtual,
// both inside go test and in a plain binary.
//
// synctest.Test needs a *testing.T. Inside go test, ForTest uses the
// test's own. A binary gets one from testing.Main, which runs a single
// test whose function is the whole program: Main hands the program a
// Runner and ends the process with the program's exit code from inside
// that test, so testing never prints its PASS/FAIL line and the exit code
// is the program's (0, 1, 2 ...), not testing's.
package bubble

import (
	"flag"
	"os"
	"testing"
	"testing/synctest"
)

// Runner runs f in a fresh synctest bubble and returns when f and every
// goroutine f started have returned. Time inside the bubble is virtual.
// A Runner is safe for concurrent use: calls from several goroutines run
// in bubbles of their own, in parallel (a seed sweep uses every core
// this way, inside go test and in a binary's single test alike).
type Runner func(f func())

// ForTest returns a Runner whose bubbles belong to t.
func ForTest(t *testing.T) Runner {
	return func(f func()) {
		synctest.Test(t, func(*testing.T) { f() })
	}
}

// Main runs prog with a Runner and ends the process with prog's result.
// It never returns. It is meant for a binary's main; prog must not call
// os.Exit itself and must write its output before returning.
//
// The process's command-line flags are left to prog: Main marks the
// standard flag set parsed (with no arguments) so that testing does not
// read os.Args, which belong to the program.
func Main(prog func(run Runner) int) {
	testing.Init()
	if !flag.Parsed() {
		_ = flag.CommandLine.Parse(nil)
	}
	tests := []testing.InternalTest{{
		Name: "main",
		F: func(t *testing.T) {
			code := prog(ForTest(t))
			os.Exit(code)
		},
	}}
	testing.Main(matchAll, tests, nil, nil)
	os.Exit(2) // not reached: the test exits
}

func matchAll(_, _ string) (bool, error) { return true, nil }
