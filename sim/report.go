package sim

import "github.com/microsim/microsim/sim/scenario"

// Report is the outcome of one run: what happened, with numbers, and
// whether every assertion held. Its JSON form is a stable schema
// documented in scenarios/README.md; other formats render the same data.
type Report struct {
	// Scenario is the scenario's name; File the file it came from.
	Scenario    string `json:"scenario"`
	Description string `json:"description,omitempty"`
	File        string `json:"file,omitempty"`
	// Seed is the seed the run used (the file's or --seed's).
	Seed uint64 `json:"seed"`
	// Passed is true when every assertion held.
	Passed bool `json:"passed"`
	// VirtualSeconds is the simulated time; WallSeconds the real time the
	// run took (the only field that differs between runs of a seed).
	VirtualSeconds float64 `json:"virtual_seconds"`
	WallSeconds    float64 `json:"wall_seconds"`
	// WindowSeconds is the width of Windows.
	WindowSeconds float64 `json:"window_seconds"`
	// Network is where the run ran: "memory" (virtual time) or "tcp"
	// (real time over TCP on 127.0.0.1).
	Network string `json:"network"`

	Totals         Totals            `json:"totals"`
	Latency        Latencies         `json:"latency"`
	FailuresByCode map[string]uint64 `json:"failures_by_code"`
	Endpoints      []SeriesReport    `json:"endpoints"`
	Workloads      []SeriesReport    `json:"workloads"`
	// Clients are the calls of each client (its workloads together).
	Clients   []SeriesReport   `json:"clients"`
	Instances []InstanceReport `json:"instances"`
	// Edges are the calls between services (call graphs); Tiers the load
	// that reached each service per top-level call.
	Edges []EdgeReport `json:"edges"`
	Tiers []TierReport `json:"tiers"`
	// Deliveries are the events of each topic each subscribing service
	// received.
	Deliveries []DeliveryReport `json:"deliveries"`
	// Streams are what each stream workload's streams did.
	Streams []StreamReport `json:"streams"`
	// Warnings say what in the scenario proved nothing (a fault that
	// changed nothing).
	Warnings []string `json:"warnings"`
	// Traces are, for each failed assertion of an observed run, the trace
	// of a representative call (WithObservation).
	Traces     []TraceReport     `json:"traces,omitempty"`
	Faults     []FaultEvent      `json:"faults"`
	Windows    []WindowReport    `json:"windows"`
	Assertions []AssertionResult `json:"assertions"`
}

// Totals counts calls and attempts over the whole run.
type Totals struct {
	Calls     uint64 `json:"calls"`
	Successes uint64 `json:"successes"`
	Failures  uint64 `json:"failures"`
	// Attempts is every attempt sent, first attempts included.
	Attempts uint64 `json:"attempts"`
	// Retries is Attempts - Calls - Hedges.
	Retries uint64 `json:"retries"`
	// Hedges is the number of backup requests.
	Hedges uint64 `json:"hedges"`
	// Ejections is the number of outlier ejections.
	Ejections uint64 `json:"ejections"`
}

// Latencies are call latency percentiles in milliseconds.
type Latencies struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

// SeriesReport summarises the calls of one endpoint or one workload.
type SeriesReport struct {
	Name      string    `json:"name"`
	Calls     uint64    `json:"calls"`
	Successes uint64    `json:"successes"`
	Failures  uint64    `json:"failures"`
	Retries   uint64    `json:"retries"`
	Latency   Latencies `json:"latency"`
}

// InstanceReport is what one instance received.
type InstanceReport struct {
	Name    string `json:"name"`
	Service string `json:"service"`
	Zone    string `json:"zone,omitempty"`
	// Attempts that went to the instance, and how many of them failed.
	Attempts uint64 `json:"attempts"`
	Failures uint64 `json:"failures"`
	// Share is Attempts over the attempts to the instance's service.
	Share float64 `json:"share"`
	// P50 and P99 of attempt latency, in milliseconds.
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
}

// FaultEvent is one occurrence of a fault on one target.
type FaultEvent struct {
	Fault  string `json:"fault"`
	Kind   string `json:"kind"`
	Target string `json:"target,omitempty"`
	// Start and End are virtual seconds since the run's start; End is -1
	// when the fault lasted to the end of the run.
	StartSeconds float64 `json:"start_seconds"`
	EndSeconds   float64 `json:"end_seconds"`
	// Touched counts what the fault affected: calls slowed or failed by a
	// handler fault, hosts crashed or stopped by a node fault.
	Touched int64 `json:"touched"`

	Start scenario.Duration `json:"-"`
	End   scenario.Duration `json:"-"`
}

// WindowReport is one time window of the run, for charts.
type WindowReport struct {
	StartSeconds float64 `json:"start_seconds"`
	Calls        uint64  `json:"calls"`
	Successes    uint64  `json:"successes"`
	Failures     uint64  `json:"failures"`
	Attempts     uint64  `json:"attempts"`
	// Retries are the window's attempts beyond the first of each call,
	// hedges aside.
	Retries uint64 `json:"retries"`
	// Hedges are the backup requests sent during the window (by when
	// they were sent, where calls and attempts count by when their call
	// started).
	Hedges uint64  `json:"hedges"`
	P50    float64 `json:"p50_ms"`
	P99    float64 `json:"p99_ms"`
	// InstanceAttempts are the attempts per instance, in the order of
	// Report.Instances.
	InstanceAttempts []uint64 `json:"instance_attempts"`
	// Workloads are the window's calls per workload, in the order of
	// Report.Workloads; Clients per client, in the order of
	// Report.Clients; Edges per call-graph edge, in the order of
	// Report.Edges.
	Workloads []WindowSeries `json:"workloads"`
	Clients   []WindowSeries `json:"clients"`
	Edges     []WindowSeries `json:"edges"`
}

// WindowSeries is one workload's (or edge's) calls in one window.
type WindowSeries struct {
	Calls     uint64  `json:"calls"`
	Successes uint64  `json:"successes"`
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
}

func windowSeries(a agg) WindowSeries {
	return WindowSeries{Calls: a.calls, Successes: a.ok, P50: msOf(percentile(a.hist, 50)), P99: msOf(percentile(a.hist, 99))}
}

// AssertionResult is one assertion's verdict.
type AssertionResult struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Passed bool   `json:"passed"`
	// Observed and Expected are human-readable ("97.20%", ">= 99.00%").
	Observed string `json:"observed"`
	Expected string `json:"expected"`
	// Value is the observed number in Unit (ratio, ms, s or count).
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Detail says where the observed value comes from (for example the
	// worst window).
	Detail string `json:"detail,omitempty"`
}
