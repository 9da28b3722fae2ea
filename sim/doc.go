// Package sim runs scenarios — a topology of services (synthetic, or
// implemented by the Go test that runs them), clients, workloads, a fault
// timeline and assertions — on the real framework client, server and
// selector over memory.Network, in virtual time, and reports with numbers
// whether the assertions held.
//
// In a test: Run(t, "x.yaml") loads a file and runs it in a
// testing/synctest bubble, failing t when the file is invalid, an
// assertion does not hold or a fault changed nothing; RunScenario does the
// same for a Scenario built in Go. Outside a test (simctl), RunWith runs a
// scenario in a bubble of a Runner (Main gives a binary one). Options:
// WithService and WithServer supply the handlers of services marked
// `implementation: go`; WithObservation records the run's traces and
// Prometheus metrics; WithSeed, WithFile, WithProgress.
//
// Scenarios are call graphs (an endpoint's calls, in steps, with fan-out
// and per-edge client settings), events (publish workloads, subscribers,
// broker faults) and streams, besides plain calls; scenarios/README.md
// documents every field. A Report renders as text and JSON here (the JSON
// schema is stable); sim/report renders JUnit XML and a self-contained
// HTML page with charts, so that a test that only runs scenarios does not
// link the renderers. Besides one run, a scenario can be swept over seeds
// (Sweep), run twice and compared (CheckDeterminism, DiffReports), or run
// in real time over TCP on 127.0.0.1 (RunWith(RealTime(), sc, WithTCP()),
// CheckTCP).
package sim
