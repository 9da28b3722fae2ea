package memory

import (
	"testing"
	"unsafe"
)

// TestSocketsSize: every call over the memory transport makes a new pair
// of sockets (its stream is mostly a recycled one), sixteen pairs at a
// time; a pair is 80 bytes. A field that pushes it over costs every call
// as much: move state that few sockets need behind a pointer, or into the
// stream, instead.
func TestSocketsSize(t *testing.T) {
	if n := unsafe.Sizeof(sockets{}); n > 80 && unsafe.Sizeof(uintptr(0)) == 8 {
		t.Errorf("a pair of sockets is %d bytes, over 80", n)
	}
}

// TestStreamSize: a stream, which every call reads and writes most of, is
// 256 bytes: the streams of a slab (transportState.streams) then start on
// cache lines, and each is four lines, not five.
func TestStreamSize(t *testing.T) {
	if n := unsafe.Sizeof(stream{}); n != 256 && unsafe.Sizeof(uintptr(0)) == 8 {
		t.Errorf("a stream is %d bytes, not 256", n)
	}
}

// TestConnHotFields: the fields of a conn that every call reads (its
// hosts, listener, limits, spare messages, broken flag and spare stream)
// are its first cache line, and a conn is 256 bytes, a size class whose
// objects start on a line, so that a call on a connection out of the
// CPU's cache fetches one line for them.
func TestConnHotFields(t *testing.T) {
	var c conn
	first, end := unsafe.Offsetof(c.from), unsafe.Offsetof(c.spareStream)+unsafe.Sizeof(c.spareStream)
	if first != 0 || end > 64 {
		t.Errorf("the hot fields of a conn are at bytes %d to %d, not within its first 64", first, end)
	}
	if n := unsafe.Sizeof(c); n != 256 && unsafe.Sizeof(uintptr(0)) == 8 {
		t.Errorf("a conn is %d bytes, not 256", n)
	}
}

// TestListenerHotFields: what opening a stream reads and writes of its
// listener (the network's state, the lock, the closed flag, Serve's
// function and its count of streams in flight) is the listener's first
// cache line (a listener, of 256 bytes, starts on one).
func TestListenerHotFields(t *testing.T) {
	var l listener
	if end := unsafe.Offsetof(l.inFlight) + unsafe.Sizeof(l.inFlight); end > 64 {
		t.Errorf("the hot fields of a listener end at byte %d, past its first cache line", end)
	}
	if n := unsafe.Sizeof(l); n > 256 && unsafe.Sizeof(uintptr(0)) == 8 {
		t.Errorf("a listener is %d bytes: over 256, its size class may not start on a cache line", n)
	}
}

// TestRegistryViewsOneLine: a host's registry view and its pause layer,
// which every heartbeat of a server on the host goes through, are made
// together in one cache line (64 bytes, a size class whose objects start
// on a line).
func TestRegistryViewsOneLine(t *testing.T) {
	if n := unsafe.Sizeof(registryViews{}); n != 64 {
		t.Errorf("a host's registry views are %d bytes, not 64", n)
	}
}
