package sim

import "time"

// SetProgressForTest sets p as a run that has done done of total virtual
// time and finished calls calls would have (the engine is its only
// writer otherwise).
func SetProgressForTest(p *Progress, done, total time.Duration, calls uint64) {
	p.done.Store(int64(done))
	p.total.Store(int64(total))
	p.calls.Store(calls)
	p.started.Store(1)
}
