// Package sim runs scenario files (topology, workload, fault timeline,
// assertions) against an in-memory cluster in virtual time and reports
// whether the assertions held. It is built out in its own issue.
//
// Reports render as text, JSON (the stable schema of scenarios/README.md),
// JUnit XML (WriteJUnit) or one self-contained HTML page with charts drawn
// by gonum/plot (WriteHTML). Besides one run in a bubble (RunWith, Run),
// a scenario can be swept over seeds in parallel bubbles (Sweep), run
// twice with one seed and compared (CheckDeterminism, DiffReports), or run
// in real time over TCP on 127.0.0.1 (RunTCP, CheckTCP). A run publishes
// its progress into a Progress, which ProgressBar draws on a terminal.
package sim
