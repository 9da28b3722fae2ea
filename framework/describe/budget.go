package describe

import "github.com/microsim/microsim/framework/registry"

// MaxServiceBytes bounds the JSON encoding of the shapes of all the
// endpoints of one service together, so that a service with many endpoints
// still fits in a registry record (Consul's holds about 30 KiB).
const MaxServiceBytes = 16 << 10

// MaxMarkerBytes bounds the JSON encoding of a marker Budget leaves in
// place of a shape it cut.
const MaxMarkerBytes = 128

// Budget keeps the shapes of eps within MaxServiceBytes in total: a shape
// that does not fit in what the shapes before it (in order) left is
// replaced by a truncated marker of its type (MaxMarkerBytes at most, not
// counted in the budget). It changes eps in place and
// returns how many shapes it cut.
func Budget(eps []*registry.Endpoint) int {
	used, cut := 0, 0
	keep := func(s **registry.Shape) {
		if *s == nil {
			return
		}
		n := Size(*s)
		if used+n <= MaxServiceBytes {
			used += n
			return
		}
		*s = &registry.Shape{Type: (*s).Type, Ref: (*s).Ref, Truncated: true}
		cut++
	}
	for _, e := range eps {
		if e != nil {
			keep(&e.RequestShape)
			keep(&e.ResponseShape)
		}
	}
	return cut
}
