package describe

import "github.com/microsim/microsim/framework/registry"

// MaxServiceBytes bounds the JSON encoding of the shapes of all the
// endpoints of one service together, so that a service with many endpoints
// still fits in a registry record (Consul's holds about 30 KiB, names and
// metadata included).
const MaxServiceBytes = 16 << 10

// Budget keeps the shapes of eps within MaxServiceBytes in total, in
// order: a shape that does not fit in what the shapes before it left is
// replaced by a truncated marker of its JSON type ({"type": "object",
// "truncated": true}), and once not even a marker fits, by nil. It changes
// eps in place and returns how many shapes it cut.
func Budget(eps []*registry.Endpoint) int {
	used, cut := 0, 0
	keep := func(s **registry.Shape) {
		if *s == nil {
			return
		}
		if n := Size(*s); used+n <= MaxServiceBytes {
			used += n
			return
		}
		cut++
		marker := &registry.Shape{Type: (*s).Type, Truncated: true}
		if n := Size(marker); used+n <= MaxServiceBytes {
			used += n
			*s = marker
			return
		}
		*s = nil
	}
	for _, e := range eps {
		if e != nil {
			keep(&e.RequestShape)
			keep(&e.ResponseShape)
		}
	}
	return cut
}
