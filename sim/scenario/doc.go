// Package scenario is the scenario file format: the Scenario type and
// every type it holds (topology, clients, workloads, faults, assertions),
// which a file decodes into and a Go test builds directly, and the
// loading and validation of files.
//
// Load reads a file and Parse a text in memory; both decode and validate
// it and return every problem at once as an ErrorList of
// "file:line:col: message" errors. A hostile file (too large, too deep,
// not text, an alias bomb, a world larger than one process can simulate)
// is refused within a bounded time and memory, never with a panic.
// Scenario.Validate checks a scenario built in Go the same way.
//
// The package knows nothing of running a scenario: package sim does that
// (sim.Run, sim.RunWith). scenarios/README.md documents every field; the
// yaml tags are the file's field names. D, Const, I, F and B help build
// scenarios in Go.
package scenario
