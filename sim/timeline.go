package sim

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	fwerrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/sim/scenario"
)

// The fault timeline: one goroutine per fault and target instance sleeps
// until each occurrence starts, applies the fault, sleeps until it ends
// and reverts it. Targets are resolved once per run, with the fault's own
// random stream.

// faultRun is one fault of the timeline and what happened to it.
type faultRun struct {
	index   int
	name    string
	kind    string
	spec    *scenario.Fault
	targets []*instance
	touched atomic.Int64

	mu     sync.Mutex
	events []FaultEvent
}

// window is one occurrence [start, end) as offsets from the run's start;
// end is -1 when the fault lasts to the end of the run.
type occurrence struct{ start, end time.Duration }

// occurrences lists fault f's occurrences within the run.
func occurrences(f *scenario.Fault, runLen time.Duration) []occurrence {
	var out []occurrence
	limit := runLen
	if f.Until > 0 && f.Until.Std() < limit {
		limit = f.Until.Std()
	}
	for k := 0; ; k++ {
		s := f.At.Std() + time.Duration(k)*f.Every.Std()
		if s >= limit || (k > 0 && f.Every == 0) {
			break
		}
		e := time.Duration(-1)
		switch {
		case f.For > 0:
			e = min(s+f.For.Std(), limit)
		case f.Until > 0:
			e = f.Until.Std()
		}
		if e >= runLen {
			e = -1
		}
		out = append(out, occurrence{s, e})
	}
	return out
}

// resolveTargets picks the instances a fault applies to.
func (w *world) resolveTargets(f *faultRun, t scenario.Target) []*instance {
	var match []*instance
	for _, in := range w.instances {
		if t.Service != "" && in.service != t.Service {
			continue
		}
		if t.Zone != "" && in.zone != t.Zone {
			continue
		}
		if !hasLabels(in.meta, t.Labels) {
			continue
		}
		if t.Instance != nil || len(t.Instances) > 0 {
			want := t.Instances
			if t.Instance != nil {
				want = append([]int{*t.Instance}, want...)
			}
			found := false
			for _, k := range want {
				found = found || k == in.index
			}
			if !found {
				continue
			}
		}
		match = append(match, in)
	}
	n := len(match)
	switch {
	case t.Random > 0:
		n = min(t.Random, n)
	case t.Share > 0:
		n = int(math.Ceil(t.Share * float64(n)))
	default:
		return match
	}
	r := newRand(w.seed, "fault/"+f.name)
	r.Shuffle(len(match), func(i, j int) { match[i], match[j] = match[j], match[i] })
	match = match[:n]
	// Keep topology order so that staggering is predictable.
	out := make([]*instance, 0, n)
	for _, in := range w.instances {
		for _, m := range match {
			if m == in {
				out = append(out, in)
			}
		}
	}
	return out
}

func hasLabels(meta, want map[string]string) bool {
	for k, v := range want {
		if meta[k] != v {
			return false
		}
	}
	return true
}

func (w *world) newFaultRun(i int, f *scenario.Fault) *faultRun {
	fr := &faultRun{index: i, name: f.NameAt(i), kind: f.Kind(), spec: f}
	var t scenario.Target
	switch {
	case f.Crash != nil:
		t = f.Crash.Target
	case f.Stop != nil:
		t = f.Stop.Target
	case f.Slow != nil:
		t = f.Slow.Target
	case f.Errors != nil:
		t = f.Errors.Target
	case f.Pause != nil:
		t = f.Pause.Target
	}
	fr.targets = w.resolveTargets(fr, t)
	return fr
}

// runFault plays one fault's timeline; it returns when the fault is over
// or ctx ends (an occurrence still active then is not reverted: the run
// is over, and closing the world ends it). A link or registry fault is
// one fault of the injector, started and stopped as a whole; any other
// fault is applied to each target instance, staggered.
func (w *world) runFault(ctx context.Context, fr *faultRun, t0 time.Time, runLen time.Duration, apply func(*instance) (revert func())) {
	if ff := w.injFaults[fr.index]; ff != nil {
		playOccurrences(ctx, fr, linkTarget(fr.spec), 0, t0, runLen, func() func() {
			if err := ff.Start(ctx); err != nil {
				return func() {}
			}
			return func() { _ = ff.Stop(context.Background()) }
		})
		fr.touched.Store(int64(ff.Stats().Touched))
		return
	}
	var wg sync.WaitGroup
	for k, in := range fr.targets {
		offset := time.Duration(k) * fr.spec.Stagger.Std()
		wg.Go(func() {
			playOccurrences(ctx, fr, in.name, offset, t0, runLen, func() func() { return apply(in) })
		})
	}
	wg.Wait()
}

// apply starts the fault on one instance and returns its revert.
func (w *world) apply(ctx context.Context, fr *faultRun, in *instance) (revert func()) {
	f := fr.spec
	switch fr.kind {
	case "crash":
		in.crash()
		fr.touched.Add(1)
		return func() { _ = in.restart(ctx) }
	case "stop":
		in.stop(30 * time.Second)
		fr.touched.Add(1)
		return func() { _ = in.restart(ctx) }
	case "slow":
		e := &effect{factor: f.Slow.Factor, touched: &fr.touched}
		if e.factor == 0 {
			e.factor = 1
		}
		if f.Slow.Add != (scenario.Latency{}) {
			e.add, e.hasAdd = newSampler(f.Slow.Add), true
		}
		in.addEffect(e)
		return func() { in.removeEffect(e) }
	case "errors":
		e := &effect{factor: 1, errRate: f.Errors.Rate, errCode: fwerrors.Unavailable, endpoint: f.Errors.Endpoint, touched: &fr.touched}
		if f.Errors.Code != "" {
			e.errCode, _ = fwerrors.ParseCode(f.Errors.Code)
		}
		in.addEffect(e)
		return func() { in.removeEffect(e) }
	case "pause":
		// The host stops serving and heartbeating (memory.Host.Pause):
		// its entry expires when its TTL passes; callers wait on it.
		in.host.Pause()
		fr.touched.Add(1)
		return func() { in.host.Resume() }
	}
	return func() {}
}

// playOccurrences applies a fault at each of its occurrences (shifted by
// offset) and reverts it at each end, recording the events; it returns
// when the fault is over or ctx ends (an occurrence still active then is
// not reverted: the run is over).
func playOccurrences(ctx context.Context, fr *faultRun, target string, offset time.Duration, t0 time.Time, runLen time.Duration, apply func() (revert func())) {
	for _, o := range occurrences(fr.spec, runLen) {
		start := o.start + offset
		if start >= runLen || !sleepUntil(ctx, t0.Add(start)) {
			return
		}
		revert := apply()
		ev := FaultEvent{Fault: fr.name, Kind: fr.kind, Target: target, Start: scenario.D(time.Since(t0)), End: -1}
		end := o.end
		if end >= 0 {
			end += offset
		}
		ended := end >= 0 && end < runLen && sleepUntil(ctx, t0.Add(end))
		if ended {
			revert()
			ev.End = scenario.D(time.Since(t0))
		} else if ctx.Err() == nil {
			<-ctx.Done()
		}
		fr.mu.Lock()
		fr.events = append(fr.events, ev)
		fr.mu.Unlock()
		if !ended {
			return
		}
	}
}
