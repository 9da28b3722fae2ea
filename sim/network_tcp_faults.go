package sim

import (
	"context"
	"time"
)

// The fault timeline over TCP: the same occurrences as in virtual time
// (Fault.occurrences, staggered per target), carried out on real servers
// and transports.

// runFault plays one fault's timeline until it is over or ctx ends.
func (b *tcpBackend) runFault(ctx context.Context, w *world, fr *faultRun, t0 time.Time, runLen time.Duration) {
	w.runFault(ctx, fr, t0, runLen, func(in *instance) func() { return b.apply(ctx, w, fr, in) })
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
