package sim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/microsim/microsim/sim/scenario"
)

// RunOption changes how a scenario runs.
type RunOption func(*runConfig)

type runConfig struct {
	seed     *uint64
	file     string
	progress *Progress
	backend  func() backend // nil: memoryBackend
	impls    map[string]ServerSetup
	obs      *Observation
	entrance func(Entrance) (func(), error)
}

// WithSeed replaces the scenario's seed.
func WithSeed(seed uint64) RunOption { return func(c *runConfig) { c.seed = &seed } }

// warmup is how long the servers run before the run's time zero (see
// simulate).
const warmup = 123457 * time.Microsecond

// WithFile names the file the scenario came from, for the report.
func WithFile(file string) RunOption { return func(c *runConfig) { c.file = file } }

// simulate runs a valid scenario and returns its report. It must be
// called inside a testing/synctest bubble, where time is virtual (Run
// and RunWith provide one): it blocks for the scenario's
// duration of virtual time, plus the time calls still in flight at the
// end need to finish, and returns once every goroutine it started has
// ended. An error means the world could not be built or the scenario is
// invalid; failed assertions are in the report, not an error.
func simulate(sc *scenario.Scenario, opts ...RunOption) (*Report, error) {
	if sc == nil {
		return nil, errors.New("sim: nil scenario")
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	cfg := runConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	seed := sc.Seed
	if seed == 0 {
		seed = scenario.DefaultSeed
	}
	if cfg.seed != nil {
		seed = *cfg.seed
	}
	be := backend(memoryBackend{})
	if cfg.backend != nil {
		be = cfg.backend()
	}
	if err := be.check(sc); err != nil {
		return nil, err
	}
	if err := checkImpls(sc, cfg.impls); err != nil {
		return nil, err
	}
	ctx := context.Background()
	w, err := be.build(ctx, sc, seed, cfg.impls, cfg.obs)
	if err != nil {
		return nil, fmt.Errorf("sim: scenario %q: %w", sc.Name, err)
	}
	runLen := sc.Duration.Std()
	// The run starts a little after the servers did, off their heartbeat
	// grid, so that a fault at a round time never coincides with a
	// heartbeat or a TTL expiry: goroutines woken at the same virtual
	// instant run in any order, which would make the run differ between
	// two runs of one seed.
	time.Sleep(warmup)
	t0 := time.Now()
	cfg.obs.start(t0)
	w.metrics = newMetrics(t0, w.window, runLen, w.maxCallTime())
	w.metrics.addInstances(len(w.instances))
	w.bindEdges()
	w.bindStreams()
	closeEntrance := func() {}
	if cfg.entrance != nil {
		if closeEntrance, err = w.openEntrance(cfg.entrance); err != nil {
			be.close(w)
			return nil, fmt.Errorf("sim: scenario %q: entrance: %w", sc.Name, err)
		}
	}
	var workloads []*workload
	for i := range sc.Workloads {
		workloads = append(workloads, w.newWorkload(i, &sc.Workloads[i], t0))
	}
	var faults []*faultRun
	for i := range sc.Faults {
		faults = append(faults, w.newFaultRun(i, &sc.Faults[i]))
	}

	runCtx, stopRun := context.WithCancel(ctx)
	var faultsDone, schedulers, inflight sync.WaitGroup
	for _, fr := range faults {
		faultsDone.Go(func() { be.runFault(runCtx, w, fr, t0, runLen) })
	}
	ejections := &ejectionWatch{seen: map[string]uint64{}}
	faultsDone.Go(func() { w.watchEjections(runCtx, ejections) })
	samples := newWindowSampler(w, t0, runLen, cfg.progress)
	faultsDone.Go(func() { samples.run(runCtx) })
	for _, wl := range workloads {
		schedulers.Go(func() { w.runWorkload(runCtx, wl, &inflight) })
	}
	schedulers.Wait()
	inflight.Wait()
	sleepUntil(ctx, t0.Add(runLen))
	if w.hasSubscribers() {
		// Events published at the very end get a moment to arrive.
		sleepUntil(ctx, t0.Add(runLen+eventDrain))
	}
	stopRun()
	faultsDone.Wait()
	virtual := time.Since(t0)
	hedges := w.clientHedges()
	w.hedges = hedges
	closeEntrance()
	be.close(w)
	cfg.obs.close()

	r := w.report(sc, cfg.file, seed, virtual, faults)
	r.Network = be.name()
	r.Warnings = w.faultWarnings(faults)
	r.Totals.Hedges, r.Totals.Ejections = hedges, ejections.total()
	r.Totals.Retries = retries(r.Totals.Attempts, r.Totals.Calls, hedges)
	samples.finish(r, hedges)
	r.Assertions = w.evaluate(sc, faults)
	w.attachTraces(r, sc, cfg.obs, faults)
	r.Passed = !slices.ContainsFunc(r.Assertions, func(a AssertionResult) bool { return !a.Passed })
	return r, nil
}

// maxCallTime bounds any call's latency: the longest client timeout.
func (w *world) maxCallTime() time.Duration {
	longest := scenario.DefaultTimeout
	for _, c := range w.sc.Clients {
		longest = max(longest, c.Timeout.Std())
	}
	return longest + time.Second
}
