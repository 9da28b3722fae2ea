package sim

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/microsim/microsim/faults"
)

// The fault timeline over TCP: the same occurrences as in virtual time
// (Fault.occurrences, staggered per target), carried out on real servers
// and transports.

// runFault plays one fault's timeline until it is over or ctx ends.
func (b *tcpBackend) runFault(ctx context.Context, w *world, fr *faultRun, t0 time.Time, runLen time.Duration) {
	if ff := b.faults[fr.index]; ff != nil {
		target := linkTarget(fr.spec)
		playOccurrences(ctx, fr, target, 0, t0, runLen, func() func() {
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
			playOccurrences(ctx, fr, in.name, offset, t0, runLen, func() func() { return b.apply(ctx, w, fr, in) })
		})
	}
	wg.Wait()
}

// apply starts the fault on one instance and returns its revert.
func (b *tcpBackend) apply(ctx context.Context, w *world, fr *faultRun, in *instance) (revert func()) {
	switch fr.kind {
	case "crash":
		b.crash(in)
		fr.touched.Add(1)
		return func() { _ = b.restart(ctx, w, in) }
	case "stop":
		b.stop(in, 30*time.Second)
		fr.touched.Add(1)
		return func() { _ = b.restart(ctx, w, in) }
	}
	// slow and errors act in the handlers, whatever the transport.
	return w.apply(ctx, fr, in)
}

// playOccurrences applies a fault at each of its occurrences (shifted by
// offset) and reverts it at each end, recording the events; it returns
// when the fault is over or ctx ends (an occurrence still active then is
// not reverted: the run is over).
func playOccurrences(ctx context.Context, fr *faultRun, target string, offset time.Duration, t0 time.Time, runLen time.Duration, apply func() (revert func())) {
	for _, o := range fr.spec.occurrences(runLen) {
		start := o.start + offset
		if start >= runLen || !sleepUntil(ctx, t0.Add(start)) {
			return
		}
		revert := apply()
		ev := FaultEvent{Fault: fr.name, Kind: fr.kind, Target: target, Start: D(time.Since(t0)), End: -1}
		end := o.end
		if end >= 0 {
			end += offset
		}
		ended := end >= 0 && end < runLen && sleepUntil(ctx, t0.Add(end))
		if ended {
			revert()
			ev.End = D(time.Since(t0))
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

// injectorSpec maps a link or registry fault of the schema to the faults
// package's spec (nil for the other kinds).
func injectorSpec(f *Fault) faults.Spec {
	switch {
	case f.Partition != nil:
		p := f.Partition
		mode := faults.Refuse
		if p.Mode == "drop" {
			mode = faults.BlackHole
		}
		return faults.LinkFault{From: hostTarget(p.From), To: hostTarget(p.To), Bidirectional: !p.OneWay, Partition: true, Mode: mode}
	case f.LinkLatency != nil:
		l := f.LinkLatency
		return faults.LinkFault{From: hostTarget(l.From), To: hostTarget(l.To), Bidirectional: true, Latency: faultDist(l.Latency)}
	case f.Loss != nil:
		l := f.Loss
		return faults.LinkFault{From: hostTarget(l.From), To: hostTarget(l.To), Bidirectional: true, Loss: l.Rate}
	case f.RegistryOutage != nil:
		return faults.RegistryFault{Unavailable: true}
	}
	return nil
}

// hostTarget maps a HostSet to a faults.Target; the empty set is every
// host.
func hostTarget(h HostSet) faults.Target {
	t := faults.Target{Zone: h.Zone, Service: h.Service}
	if h.Client != "" {
		t.Nodes = []string{clientHost(h.Client)}
	}
	return t
}

// faultDist maps a latency distribution of the schema to the faults
// package's.
func faultDist(l Latency) faults.Dist {
	var d faults.Dist
	switch l.Dist {
	case "", DistConstant:
		return faults.Constant(l.Value.Std())
	case DistUniform:
		return faults.Uniform(l.Min.Std(), l.Max.Std())
	case DistNormal:
		d = faults.Normal(l.Mean.Std(), l.Stddev.Std())
	case DistLognormal:
		d = faults.LogNormal(l.Median.Std(), l.P99.Std())
	case DistExponential:
		d = faults.Exponential(l.Mean.Std())
	case DistPareto:
		d = faults.Pareto(l.Scale.Std(), l.Alpha)
	}
	if l.Min > 0 || l.Max > 0 {
		d = d.Clamp(l.Min.Std(), l.Max.Std())
	}
	return d
}

// linkTarget describes a link or registry fault's target for the report.
func linkTarget(f *Fault) string {
	set := func(h HostSet) string {
		var parts []string
		if h.Zone != "" {
			parts = append(parts, "zone "+h.Zone)
		}
		if h.Service != "" {
			parts = append(parts, "service "+h.Service)
		}
		if h.Client != "" {
			parts = append(parts, "client "+h.Client)
		}
		if len(parts) == 0 {
			return "any"
		}
		return strings.Join(parts, " ")
	}
	arrow := " <-> "
	switch {
	case f.Partition != nil:
		if f.Partition.OneWay {
			arrow = " -> "
		}
		return set(f.Partition.From) + arrow + set(f.Partition.To)
	case f.LinkLatency != nil:
		return set(f.LinkLatency.From) + arrow + set(f.LinkLatency.To)
	case f.Loss != nil:
		return set(f.Loss.From) + arrow + set(f.Loss.To)
	}
	return "registry"
}
