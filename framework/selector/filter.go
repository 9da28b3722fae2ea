package selector

import (
	"slices"

	"github.com/microsim/microsim/framework/registry"
)

// Filters never modify their input: they return the same slice when they
// keep everything, and otherwise a new slice whose changed services are
// shallow copies (sharing metadata, endpoints and nodes with the input).
// They never block and are safe for concurrent use.

// FilterVersion keeps the services whose version is one of versions.
func FilterVersion(versions ...string) Filter {
	versions = slices.Clone(versions)
	return func(in []*registry.Service) []*registry.Service {
		return filterServices(in, func(s *registry.Service) bool {
			return slices.Contains(versions, s.Version)
		})
	}
}

// FilterEndpoint keeps the services that declare an endpoint called name.
func FilterEndpoint(name string) Filter {
	return func(in []*registry.Service) []*registry.Service {
		return filterServices(in, func(s *registry.Service) bool {
			return slices.ContainsFunc(s.Endpoints, func(e *registry.Endpoint) bool {
				return e != nil && e.Name == name
			})
		})
	}
}

// FilterLabel keeps the nodes whose metadata has key set to value; services
// left without nodes are dropped.
func FilterLabel(key, value string) Filter {
	match := func(n *registry.Node) bool {
		v, ok := n.Metadata[key]
		return ok && v == value
	}
	return func(in []*registry.Service) []*registry.Service {
		return filterNodes(in, match)
	}
}

// filterServices returns the services of in for which keep is true.
func filterServices(in []*registry.Service, keep func(*registry.Service) bool) []*registry.Service {
	for i, s := range in {
		if s != nil && keep(s) {
			continue
		}
		// First drop: copy what was kept so far, then filter the rest.
		out := make([]*registry.Service, i, len(in)-1)
		copy(out, in[:i])
		for _, s := range in[i+1:] {
			if s != nil && keep(s) {
				out = append(out, s)
			}
		}
		return out
	}
	return in
}

// filterNodes keeps the nodes for which keep is true, copying each service
// whose node list shrinks and dropping those left empty.
func filterNodes(in []*registry.Service, keep func(*registry.Node) bool) []*registry.Service {
	var out []*registry.Service
	changed := false
	for i, s := range in {
		if s == nil {
			if !changed {
				out, changed = slices.Clone(in[:i]), true
			}
			continue
		}
		nodes := keepNodes(s.Nodes, keep)
		if len(nodes) == len(s.Nodes) {
			if changed {
				out = append(out, s)
			}
			continue
		}
		if !changed {
			out, changed = slices.Clone(in[:i]), true
		}
		if len(nodes) > 0 {
			c := *s
			c.Nodes = nodes
			out = append(out, &c)
		}
	}
	if !changed {
		return in
	}
	return out
}

// keepNodes returns nodes itself if keep holds for all of them, otherwise a
// new slice of those it holds for.
func keepNodes(nodes []*registry.Node, keep func(*registry.Node) bool) []*registry.Node {
	for i, n := range nodes {
		if n != nil && keep(n) {
			continue
		}
		out := slices.Clone(nodes[:i])
		for _, n := range nodes[i+1:] {
			if n != nil && keep(n) {
				out = append(out, n)
			}
		}
		return out
	}
	return nodes
}

// ZoneKey is the node metadata key FilterZone reads a node's zone from.
const ZoneKey = "zone"

// FilterZone prefers the caller's zone: it keeps only the nodes whose
// metadata "zone" (ZoneKey) equals zone while that zone has at least
// minHealthy of them, and keeps every node (spills over to all zones) once
// it has fewer. minHealthy below 1 counts as 1, so with the default the
// zone is left only when it has no node at all.
//
// Healthy means not ejected: the default Selector removes ejected nodes
// before it runs its filters, so given to New (WithFilter) the threshold
// counts the zone's healthy nodes, and the spill-over follows outlier
// ejection as well as registrations. (Envoy's zone-aware routing likewise
// routes locally only while the local zone has enough healthy hosts.) As a
// selector-wide filter its result is cached with the node set, so it costs
// nothing per call; as a per-call filter it costs O(n) and, when it
// narrows, one new slice per call.
func FilterZone(zone string, minHealthy int) Filter {
	minHealthy = max(minHealthy, 1)
	inZone := func(n *registry.Node) bool { return n.Metadata[ZoneKey] == zone }
	return func(in []*registry.Service) []*registry.Service {
		local := 0
		for _, s := range in {
			if s == nil {
				continue
			}
			for _, n := range s.Nodes {
				if n != nil && inZone(n) {
					local++
				}
			}
		}
		if local < minHealthy {
			return in
		}
		return filterNodes(in, inZone)
	}
}
