// Command simctl runs microsim scenario files in virtual time and reports
// whether their assertions held.
//
//	simctl run FILE... [--seed N] [--format text|json|junit|html] [--out FILE] [--quiet]
//	simctl run FILE... --seeds A-B [--parallel N]    one run per seed, summarised
//	simctl run FILE... --check-determinism           two runs of one seed, compared
//	simctl run FILE... --network tcp                 real time over TCP on 127.0.0.1
//	simctl validate FILE...
//	simctl list [DIR]
//
// Exit codes: 0 every assertion held; 1 an assertion failed (for some
// seed; or the determinism check found a difference); 2 invalid input or
// usage. This package holds only the flag plumbing; the logic lives in
// package sim.
package main

import (
	"os"

	"github.com/microsim/microsim/sim"
)

func main() {
	// sim.Main hosts the synctest bubbles the runs need and exits with
	// execute's code.
	sim.Main(func(run sim.Runner) int {
		a := newApp(os.Stdout, os.Stderr, run)
		a.oneCore = useOneCore
		return executeApp(a, os.Args[1:])
	})
}
