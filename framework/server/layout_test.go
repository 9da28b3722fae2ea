package server

import (
	"testing"
	"unsafe"
)

// TestServerHotFields: what a call reads and writes of its server (the
// name, mutex, running state, calls in flight, a Stop's drain signal
// and the options every call reads) is in the server's first two cache
// lines, and what it
// reads of the running state (stopping, the call slots, the contexts
// calls are rooted in) in that's first two; likewise an endpoint's in
// its first line. In a world of many servers each is out of the CPU's
// cache by its next call, and each line is one more fetch.
func TestServerHotFields(t *testing.T) {
	var s server
	if end := unsafe.Offsetof(s.opts) + unsafe.Offsetof(s.opts.codecs) + unsafe.Sizeof(s.opts.codecs); end > 128 || unsafe.Offsetof(s.drained) > end {
		t.Errorf("a server's hot fields end at byte %d, past its second cache line, or the drain signal is past them", end)
	}
	var r running
	if end := unsafe.Offsetof(r.hbase) + unsafe.Sizeof(r.hbase); end > 128 {
		t.Errorf("a running server's hot fields end at byte %d, past its second cache line", end)
	}
	var ep endpoint
	if end := unsafe.Offsetof(ep.unary) + unsafe.Offsetof(ep.unary.args) + unsafe.Sizeof(ep.unary.args); end > 64 {
		t.Errorf("an endpoint's hot fields end at byte %d, past its first cache line", end)
	}
}
