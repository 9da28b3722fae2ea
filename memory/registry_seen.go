package memory

import "github.com/microsim/microsim/framework/registry"

// regSeen is a node's stored registration laid out for a heartbeat to be
// told from it in a few cache lines: the strings in line, each map as its
// keys and values in one array, the endpoints in one array. A heartbeat
// comes every second from each node of a large world, its caller's data
// and this one both out of the CPU's cache by then; the stored copy
// (regNode.svc) is a tree of a dozen allocations to walk, this is the
// regNode and two arrays (and the shapes).
//
// Its strings and shapes are the stored copy's, which shares its strings
// with the registration it was made from: comparing an unchanged
// registration compares string pointers, not bytes.
//
// It compares every field of the registration but the nodes other than
// the one registered; a nil map or endpoint list equals an empty one.
type regSeen struct {
	name, version, id, address string
	meta, nodeMeta             seenMap
	endpoints                  []seenEndpoint
}

type seenEndpoint struct {
	set                         bool // false for a nil endpoint
	name, request, response     string
	meta                        seenMap
	requestShape, responseShape *registry.Shape
}

// seenMap is a map of the stored copy as its keys and values in turn.
type seenMap []string

// set records svc, a one-node registration of the registry's own (a stored
// copy, which nothing modifies).
func (r *regSeen) set(svc *registry.Service) {
	n := svc.Nodes[0]
	*r = regSeen{name: svc.Name, version: svc.Version, id: n.ID, address: n.Address}
	r.meta.set(svc.Metadata)
	r.nodeMeta.set(n.Metadata)
	if len(svc.Endpoints) > 0 {
		r.endpoints = make([]seenEndpoint, len(svc.Endpoints))
		for i, e := range svc.Endpoints {
			if e != nil {
				s := &r.endpoints[i]
				*s = seenEndpoint{set: true, name: e.Name, request: e.Request, response: e.Response,
					requestShape: e.RequestShape, responseShape: e.ResponseShape}
				s.meta.set(e.Metadata)
			}
		}
	}
}

// same reports whether svc registering node n (not nil) is the
// registration r holds, without copying either.
func (r *regSeen) same(svc *registry.Service, n *registry.Node) bool {
	if r.name != svc.Name || r.version != svc.Version || r.id != n.ID || r.address != n.Address ||
		len(r.endpoints) != len(svc.Endpoints) || !r.nodeMeta.same(n.Metadata) || !r.meta.same(svc.Metadata) {
		return false
	}
	for i, e := range svc.Endpoints {
		s := &r.endpoints[i]
		if e == nil || !s.set {
			if e != nil || s.set {
				return false
			}
			continue
		}
		if s.name != e.Name || s.request != e.Request || s.response != e.Response || !s.meta.same(e.Metadata) ||
			!s.requestShape.Equal(e.RequestShape) || !s.responseShape.Equal(e.ResponseShape) {
			return false
		}
	}
	return true
}

func (p *seenMap) set(m map[string]string) {
	*p = nil
	if len(m) > 0 {
		*p = make(seenMap, 0, 2*len(m))
		for k, v := range m {
			*p = append(*p, k, v)
		}
	}
}

// same reports whether m holds exactly the entries of p. It looks each
// key up, which in a small map compares strings without hashing them, and
// is cheaper than to range over m.
func (p seenMap) same(m map[string]string) bool {
	if len(m) != len(p)/2 {
		return false
	}
	for i := 0; i < len(p); i += 2 {
		if v, ok := m[p[i]]; !ok || v != p[i+1] {
			return false
		}
	}
	return true
}
