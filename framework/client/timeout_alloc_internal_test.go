//go:build !race

package client

import (
	"testing"
	"time"
)

// TestTimeoutValueAllocations: an attempt with the time left of the one
// before, of whole milliseconds, formats and allocates nothing for its
// Micro-Timeout value, even from a reused call frame, whose own buffer is
// spent. Allocation counts mean nothing under the race detector.
func TestTimeoutValueAllocations(t *testing.T) {
	c := &rpcClient{}
	r := &Request{}
	r.timeoutClaimed.Store(true)
	c.timeoutValue(r, 2*time.Second)
	if n := testing.AllocsPerRun(100, func() { c.timeoutValue(r, 2*time.Second) }); n != 0 {
		t.Errorf("%v allocations per attempt, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { c.timeoutValue(r, 2*time.Second+1) }); n != 1 {
		t.Errorf("%v allocations per attempt of a value of nanoseconds, want 1 (its own)", n)
	}
}
