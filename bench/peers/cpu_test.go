package peers

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user + system) the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process's CPU time per call since start as
// "cpu-ns/op": it counts client and server, and varies far less than
// calls/s on a machine shared with other work.
func reportCPU(b *testing.B, start time.Duration) {
	if used := cpuTime() - start; used > 0 && b.N > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// contextSwitches counts the OS thread context switches of the process so
// far, voluntary and not.
func contextSwitches() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Nvcsw + ru.Nivcsw
}

// reportSwitches reports the process's context switches per call since
// start as "ctxsw/op": how often a call made a thread sleep and another
// wake (a ping-pong that stays on one thread makes almost none).
func reportSwitches(b *testing.B, start int64) {
	if b.N > 0 {
		b.ReportMetric(float64(contextSwitches()-start)/float64(b.N), "ctxsw/op")
	}
}
