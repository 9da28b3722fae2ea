// Package sim runs scenarios — a topology of services (synthetic, or
// implemented by the Go test that runs them), clients, workloads, a fault
// timeline and assertions — on the real framework client, server and
// selector over memory.Network, in virtual time, and reports with numbers
// whether the assertions held.
//
// In a test, Run is all there is to it:
//
//	sim.Run(t, "scenarios/node-crash-ghost.yaml")
//
// loads the file, runs it in a testing/synctest bubble and fails t, with
// the text report, when the file is invalid, an assertion does not hold
// or a fault changed nothing. Run also takes a *scenario.Scenario built in
// Go; the types of the file format, Load and Parse live in sim/scenario.
// Outside a test (simctl), RunWith runs a scenario in a bubble of any
// Runner (Main gives a binary one, RealTime none) and returns the Report.
//
// Options: WithService and WithServer supply the handlers of services
// marked `implementation: go`; WithObservation records the run's traces
// and Prometheus metrics; WithEntrance opens the world to an outside
// client (the gateway); WithTCP runs it over real TCP on 127.0.0.1 (with
// RealTime; CheckTCP says whether a scenario can); WithSeed, WithFile,
// WithProgress.
//
// A Report renders as text and JSON here (the JSON schema is stable).
// sim/report renders JUnit XML and a self-contained HTML page with charts,
// and sim/sweep runs one scenario over many seeds or checks that two runs
// of one seed agree, both on top of RunWith: a test that only runs
// scenarios links neither.
//
// A run in virtual time is a chain of goroutines waking one another, and
// it runs fastest on one processor: `go test -cpu 1` (or GOMAXPROCS=1)
// makes a scenario test take 15-20% less wall time, with the same
// report. simctl runs a single run that way.
//
// Inside, a run builds a world (instances, clients, the fault injector)
// from the scenario, starts its workloads and fault timeline, records
// every call, attempt and edge of the call graphs in windowed metrics,
// and evaluates the assertions on them when the workloads end.
package sim
