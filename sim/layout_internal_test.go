package sim

import (
	"testing"
	"unsafe"
)

// TestInstanceHotFields: what a synthetic endpoint's call reads of its
// instance (the seed, the world, the behaviours, the faults in effect and
// the first endpoint's handler, which the server calls) is the instance's
// first cache line, and an instance is 256 bytes, a size class whose
// objects start on a line: in a world of many instances each is out of
// the CPU's cache by its next call.
func TestInstanceHotFields(t *testing.T) {
	var in instance
	if end := unsafe.Offsetof(in.ep0) + unsafe.Sizeof(in.ep0); end > 64 {
		t.Errorf("an instance's hot fields end at byte %d, past its first cache line", end)
	}
	if n := unsafe.Sizeof(in); n != 256 && unsafe.Sizeof(uintptr(0)) == 8 {
		t.Errorf("an instance is %d bytes, not 256", n)
	}
}
