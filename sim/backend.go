package sim

import (
	"context"
	"time"

	"github.com/microsim/microsim/sim/scenario"
)

// backend is where a world runs: the in-memory network in virtual time
// (memoryBackend, the default) or real transports in real time
// (tcpBackend, WithTCP). simulate builds the world, plays the fault
// timeline and closes the world through it; workloads, metrics, reports
// and assertions are the same for every backend.
type backend interface {
	// name is the report's Network: NetworkMemory or NetworkTCP.
	name() string
	// check refuses what the backend cannot run (after Validate).
	check(sc *scenario.Scenario) error
	// build creates the world and starts every instance and client.
	// impls are the Go implementations of services (WithService).
	build(ctx context.Context, sc *scenario.Scenario, seed uint64, impls map[string]ServerSetup, obs *Observation) (*world, error)
	// runFault plays one fault's timeline until it is over or ctx ends.
	runFault(ctx context.Context, w *world, fr *faultRun, t0 time.Time, runLen time.Duration)
	// close stops everything build started and waits for it.
	close(w *world)
}

// memoryBackend runs the world on memory.Network, inside a bubble.
type memoryBackend struct{}

// Networks a run reports.
const (
	NetworkMemory = "memory"
	NetworkTCP    = "tcp"
)

func (memoryBackend) name() string { return NetworkMemory }

func (memoryBackend) check(*scenario.Scenario) error { return nil }

func (memoryBackend) build(ctx context.Context, sc *scenario.Scenario, seed uint64, impls map[string]ServerSetup, obs *Observation) (*world, error) {
	return build(ctx, sc, seed, impls, obs)
}

func (memoryBackend) runFault(ctx context.Context, w *world, fr *faultRun, t0 time.Time, runLen time.Duration) {
	w.runFault(ctx, fr, t0, runLen, func(in *instance) func() { return w.apply(ctx, fr, in) })
}

func (memoryBackend) close(w *world) { w.close() }
