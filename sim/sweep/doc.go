// Package sweep runs one scenario many times, each run with sim.RunWith
// in a bubble of its own, and compares the reports: Seeds runs it once per
// seed and summarises which seeds failed which assertion and how the key
// figures spread; CheckDeterminism runs it twice or more with one seed and
// says, with DiffReports, where the reports differ. simctl's --seeds and
// --check-determinism are these.
package sweep
