package memory

import (
	"testing"
	"unsafe"
)

// TestStreamSizeClass: every call over the memory transport allocates one
// stream; it is laid out to fit the runtime's 352-byte size class (the
// next is 384). A field that pushes it over costs every call 32 bytes or
// more: move state that few streams need behind a pointer instead.
func TestStreamSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(stream{}); n > 352 {
		t.Errorf("stream is %d bytes, over the 352-byte size class", n)
	}
}

// TestSpareSlotsOwnCacheLines: a conn's spare slots (transport_lease.go)
// are a cache line each at its start, which is on a line when the conn is
// over 512 bytes (the runtime's size classes from 512 on are whole
// 64-byte lines). Otherwise a slot shares its line with the other
// direction's or with fields every message reads, and the processors of a
// call's two ends pass it to and fro.
func TestSpareSlotsOwnCacheLines(t *testing.T) {
	var c conn
	if off := unsafe.Offsetof(c.slots); off != 0 {
		t.Errorf("the slots are at offset %d of a conn, not at its start", off)
	}
	if n := unsafe.Sizeof(spareSlot{}); n != 64 {
		t.Errorf("a spare slot is %d bytes, not a 64-byte cache line", n)
	}
	if n := unsafe.Sizeof(c); n <= 512 && unsafe.Sizeof(uintptr(0)) == 8 {
		t.Errorf("a conn is %d bytes: its size class may not be whole cache lines", n)
	}
}

// TestConnHotFields: the fields of a conn that every call reads (its
// listener, limits, flags, wake channels and notifications) are the two
// cache lines after the slots, so that a call on a connection out of the
// CPU's cache fetches two lines for them, not the conn's nine.
func TestConnHotFields(t *testing.T) {
	var c conn
	first, end := unsafe.Offsetof(c.from), unsafe.Offsetof(c.notified)+unsafe.Sizeof(c.notified)
	if first != 128 || end > 256 {
		t.Errorf("the hot fields of a conn are at bytes %d to %d, not within 128 to 256", first, end)
	}
}
