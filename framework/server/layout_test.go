package server

import (
	"testing"
	"unsafe"
)

// TestServerHotFields: what a call reads and writes of its server (the
// name, mutex, calls in flight, the limit on them, a Stop's drain signal
// and the running state) is in the server's first cache line (a server
// is 384 bytes, a size class whose objects start on a line), and what it
// reads of the running state (stopping, the free call
// slots, the contexts calls are rooted in) in that's first line; likewise
// an endpoint's in its first line. In a world of many servers each is out
// of the CPU's cache by its next call, and each line is one more fetch.
func TestServerHotFields(t *testing.T) {
	var s server
	if end := unsafe.Offsetof(s.run) + unsafe.Sizeof(s.run); end > 64 {
		t.Errorf("a server's hot fields end at byte %d, past its first cache line", end)
	}
	if n := unsafe.Sizeof(s); n != 384 && unsafe.Sizeof(uintptr(0)) == 8 {
		t.Errorf("a server is %d bytes, not 384: its first line may not be one", n)
	}
	// A call slot is three whole lines (192 bytes, a size class whose
	// objects start on one).
	if n := unsafe.Sizeof(callSlot{}); n != 192 && unsafe.Sizeof(uintptr(0)) == 8 {
		t.Errorf("a call slot is %d bytes, not 192", n)
	}
	// A running server and an endpoint are in size classes of whole
	// cache lines (256 and 128 bytes: over 192 and 112), so that their
	// first line is one.
	var r running
	if end := unsafe.Offsetof(r.hbase) + unsafe.Sizeof(r.hbase); end > 64 {
		t.Errorf("a running server's hot fields end at byte %d, past its first cache line", end)
	}
	if n := unsafe.Sizeof(r); n <= 192 || n > 256 {
		t.Errorf("a running server is %d bytes, not in the 256-byte size class", n)
	}
	var ep endpoint
	if end := unsafe.Offsetof(ep.unary) + unsafe.Offsetof(ep.unary.impl) + unsafe.Sizeof(ep.unary.impl); end > 64 {
		t.Errorf("an endpoint's hot fields end at byte %d, past its first cache line", end)
	}
	if n := unsafe.Sizeof(ep); n <= 112 || n > 128 {
		t.Errorf("an endpoint is %d bytes, not in the 128-byte size class", n)
	}
	// A typed endpoint is part of its caller (192 bytes, a size class
	// whose objects start on a line), whose handler and pool, and the
	// endpoint's hot fields after them, are its first line.
	var tc typedCaller[[]byte, []byte]
	first := unsafe.Offsetof(tc.ep)
	end := first + unsafe.Offsetof(ep.unary) + unsafe.Offsetof(ep.unary.impl) + unsafe.Sizeof(ep.unary.impl)
	if unsafe.Offsetof(tc.h) >= first || unsafe.Offsetof(tc.pool) >= first || end > 64 {
		t.Errorf("a typed caller's hot fields end at byte %d, past its first cache line", end)
	}
	if n := unsafe.Sizeof(tc); n != 192 && unsafe.Sizeof(uintptr(0)) == 8 {
		t.Errorf("a typed caller is %d bytes, not 192", n)
	}
}

// TestBeatsHotFields: what a heartbeat's beat reads and writes of its
// beats (the schedule, the registration, and its ctx's deadline and end
// while the ctx is the beats' own) is in its first two cache lines, and a
// beats is 256 bytes, a size class whose objects start on a line: a beat
// comes once an interval, when they are out of the CPU's cache.
func TestBeatsHotFields(t *testing.T) {
	var b beats
	if n := unsafe.Sizeof(b); n != 256 {
		t.Errorf("a beats is %d bytes, not 256", n)
	}
	for name, end := range map[string]uintptr{
		"ttl":          unsafe.Offsetof(b.ttl) + unsafe.Sizeof(b.ttl),
		"idle":         unsafe.Offsetof(b.idle) + unsafe.Sizeof(b.idle),
		"own.ended":    unsafe.Offsetof(b.own) + unsafe.Offsetof(b.own.ended) + unsafe.Sizeof(b.own.ended),
		"own.deadline": unsafe.Offsetof(b.own) + unsafe.Offsetof(b.own.deadline) + unsafe.Sizeof(b.own.deadline),
	} {
		if end > 128 {
			t.Errorf("a beats' %s ends at byte %d, past its second cache line", name, end)
		}
	}
}
