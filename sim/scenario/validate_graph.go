package scenario

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Limits of call graphs.
const (
	// maxFanout bounds one step's calls.
	maxFanout = 1000
	// maxCallsPerCall bounds the calls one top-level call may cause, all
	// tiers together, counted with every fan-out taken in full.
	maxCallsPerCall = 10_000
	// maxGraphDepth bounds a step's max_depth (and so any recursion).
	maxGraphDepth = 64
)

// serviceKind checks what depends on who implements a service: a Go
// service's endpoints only name its handlers, and its client block.
func (v *validator) serviceKind(path string, s *Service) {
	switch s.Implementation {
	case "", ImplementationSynthetic, ImplementationGo:
	default:
		v.p.add(join(path, "implementation"), "unknown implementation %q; known: %s, %s", s.Implementation, ImplementationSynthetic, ImplementationGo)
	}
	if s.IsGo() {
		for i := range s.Endpoints {
			e := &s.Endpoints[i]
			ep := index(join(path, "endpoints"), i)
			for _, f := range []struct {
				set  bool
				name string
			}{{e.ErrorRate != 0, "error_rate"}, {e.ErrorCode != "", "error_code"}, {len(e.Calls) > 0, "calls"}, {e.Stream, "stream"}} {
				if f.set {
					v.p.add(join(ep, f.name), "service %q is implemented in Go: its handlers decide %s (use an errors fault to inject failures)", s.Name, f.name)
				}
			}
		}
		for i := range s.Overrides {
			o := &s.Overrides[i]
			op := index(join(path, "overrides"), i)
			if o.ErrorRate != nil {
				v.p.add(join(op, "error_rate"), "service %q is implemented in Go: its handlers decide their errors (use an errors fault on the instances)", s.Name)
			}
		}
	}
	if c := s.Client; c != nil {
		cp := join(path, "client")
		if c.Name != "" {
			v.p.add(join(cp, "name"), "a service's client is named after its instances; remove name")
		}
		if c.Zone != "" {
			v.p.add(join(cp, "zone"), "a service's client is in its instance's zone; remove zone")
		}
		cc := *c
		if len(s.Zones) > 0 {
			cc.Zone = s.Zones[0] // zone affinity works from the instance's zone
		}
		v.clientConfig(cp, &cc)
	}
}

// serves reports whether svc may be called at endpoint ep: a synthetic
// service lists its endpoints; a Go service that lists none is checked
// when its handlers are registered.
func (v *validator) serves(svc *Service, ep string) bool {
	if svc == nil {
		return true
	}
	if svc.IsGo() && len(svc.Endpoints) == 0 {
		return true
	}
	_, ok := v.endpointIndex(svc)[ep]
	return ok
}

// request checks a JSON request sent to svc.
func (v *validator) request(path string, svc *Service, req string) {
	if req == "" || svc == nil {
		return
	}
	if !svc.IsGo() {
		v.p.add(path, "service %q is synthetic and takes no request; request applies to services implemented in Go", svc.Name)
		return
	}
	if probe := ExpandRequest(json.RawMessage(req), 0); !json.Valid(probe) {
		var x any
		err := json.Unmarshal(probe, &x)
		v.p.add(path, "request is not valid JSON: %v", err)
	}
}

// callGraph checks every endpoint's calls: callees that exist, fan-out
// values that can be met, no cycle, and a bounded number of calls per
// top-level call.
func (v *validator) callGraph() {
	t := &v.sc.Topology
	for i := range t.Services {
		s := &t.Services[i]
		for j := range s.Endpoints {
			e := &s.Endpoints[j]
			ep := index(join(index("topology.services", i), "endpoints"), j)
			if e.Stream && len(e.Calls) > 0 {
				v.p.add(join(ep, "calls"), "a stream endpoint makes no calls (it answers each message)")
			}
			for k := range e.Calls {
				v.step(index(join(ep, "calls"), k), &e.Calls[k], false)
			}
		}
	}
	if len(v.p.list) > 0 {
		return // the walk below needs well-formed steps
	}
	g := &graphWalk{v: v, state: map[string]int{}, cost: map[string]int{}}
	for i := range t.Services {
		s := &t.Services[i]
		for j := range s.Endpoints {
			g.visit(s.Name, s.Endpoints[j].Name, nil)
		}
	}
	if g.bad {
		return
	}
	v.cost = map[string]int{}
	for i := range t.Services {
		s := &t.Services[i]
		for j := range s.Endpoints {
			node := s.Name + "/" + s.Endpoints[j].Name
			c := g.costAt(s.Name, s.Endpoints[j].Name, 0)
			v.cost[node] = c
			if c > maxCallsPerCall && !g.bad {
				g.bad = true
				v.p.add(g.endpointPath(s.Name, s.Endpoints[j].Name), "one call of %s causes more than %d calls down the call graph (fan-outs and bounded cycles multiply); reduce the fanout or the max_depth", node, maxCallsPerCall)
			}
		}
	}
}

// step checks one step (inner: a Parallel entry).
func (v *validator) step(path string, s *Step, inner bool) {
	if s.Publish != "" {
		if s.Service != "" || s.Endpoint != "" || s.Fanout != 0 || len(s.Parallel) > 0 || s.Request != "" {
			v.p.add(path, "a step publishes (publish) or calls (service, endpoint, parallel), not both")
		}
		v.topic(join(path, "publish"), s.Publish)
		return
	}
	if len(s.Parallel) > 0 {
		if inner {
			v.p.add(join(path, "parallel"), "parallel entries cannot nest another parallel")
			return
		}
		if s.Service != "" || s.Endpoint != "" || s.Fanout != 0 || s.Request != "" {
			v.p.add(path, "a step is one call (service, endpoint, fanout) or a parallel group, not both")
		}
		for i := range s.Parallel {
			v.step(index(join(path, "parallel"), i), &s.Parallel[i], true)
		}
	} else {
		svc := v.services[s.Service]
		switch {
		case s.Service == "":
			v.p.add(join(path, "service"), "a call needs the service it calls (or a parallel group)")
		case svc == nil:
			v.p.add(join(path, "service"), "service %q does not exist; services: %s", s.Service, strings.Join(sortedKeys(v.services), ", "))
		}
		switch {
		case s.Endpoint == "":
			v.p.add(join(path, "endpoint"), "a call needs the endpoint it calls")
		case !v.serves(svc, s.Endpoint):
			v.p.add(join(path, "endpoint"), "service %q has no endpoint %q", s.Service, s.Endpoint)
		case isStream(svc, s.Endpoint):
			v.p.add(join(path, "endpoint"), "endpoint %q is a stream; a step makes unary calls", s.Endpoint)
		}
		if s.Fanout < 0 || s.Fanout > maxFanout {
			v.p.add(join(path, "fanout"), "must be in [1, %d], got %d", maxFanout, s.Fanout)
		}
		v.request(join(path, "request"), svc, s.Request)
	}
	if inner && s.Need != 0 {
		v.p.add(join(path, "need"), "need applies to the whole step; set it beside parallel")
	}
	switch {
	case inner && s.MaxDepth != 0:
		v.p.add(join(path, "max_depth"), "max_depth applies to the whole step; set it beside parallel")
	case s.MaxDepth < 0 || s.MaxDepth > maxGraphDepth:
		v.p.add(join(path, "max_depth"), "must be in [1, %d], got %d", maxGraphDepth, s.MaxDepth)
	}
	if w := s.width(); s.Need < 0 || s.Need > w {
		v.p.add(join(path, "need"), "must be in [1, %d] (the step makes %d calls), got %d", w, w, s.Need)
	}
	v.nonNegative(join(path, "timeout"), s.Timeout)
	v.nonNegative(join(path, "attempt_timeout"), s.AttemptTimeout)
	if r := s.Retries; r != nil {
		if r.Budget != nil {
			v.p.add(join(path, "retries.budget"), "a retry budget is the client's: set it in the calling service's client block")
		}
		v.clientConfig(path, &Client{Retries: &RetryConfig{MaxAttempts: r.MaxAttempts, Backoff: r.Backoff}})
	}
	if h := s.Hedging; h != nil {
		v.clientConfig(path, &Client{Hedging: h})
	}
}

// graphWalk finds cycles and counts the calls an endpoint causes, by
// depth-first search over "service/endpoint" nodes. A step with
// max_depth is a bounded edge: a cycle through it is allowed (the
// recursion ends at that depth), so cycles are looked for among the other
// edges only, and the calls are counted at each depth.
type graphWalk struct {
	v     *validator
	state map[string]int // 0 unseen, 1 on the path, 2 done
	cost  map[string]int // costAt's, by node and depth
	bad   bool
}

// visit looks for a cycle of unbounded edges from service's endpoint;
// path is the nodes above it.
func (g *graphWalk) visit(service, endpoint string, path []string) {
	node := service + "/" + endpoint
	switch g.state[node] {
	case 1:
		if !g.bad {
			g.bad = true
			cyc := append(slices.Clone(path[slices.Index(path, node):]), node)
			g.v.p.add(g.stepPath(path[len(path)-1], service, endpoint), "the call graph has a cycle: %s (bound it with max_depth on one of its steps)", strings.Join(cyc, " -> "))
		}
		return
	case 2:
		return
	}
	g.state[node] = 1
	path = append(path, node)
	for _, st := range g.steps(service, endpoint) {
		if st.MaxDepth > 0 {
			continue // bounded: not part of a cycle that never ends
		}
		for _, c := range st.Calls() {
			if c.Publish == "" {
				g.visit(c.Service, c.Endpoint, path)
			}
		}
	}
	g.state[node] = 2
}

// steps are the steps of service's endpoint (none for a Go service's).
func (g *graphWalk) steps(service, endpoint string) []Step {
	svc := g.v.services[service]
	if svc == nil {
		return nil
	}
	for _, e := range svc.Endpoints {
		if e.Name == endpoint {
			return e.Calls
		}
	}
	return nil
}

// costAt is the calls one call of service's endpoint at depth (hops from
// the top-level call) causes, itself included, capped just above
// maxCallsPerCall. It ends: every cycle has a bounded edge (visit), which
// is not followed once depth reaches its bound.
func (g *graphWalk) costAt(service, endpoint string, depth int) int {
	key := service + "/" + endpoint + "@" + strconv.Itoa(depth)
	if c, ok := g.cost[key]; ok {
		return c
	}
	total := 1
	for _, st := range g.steps(service, endpoint) {
		if st.MaxDepth > 0 && depth >= st.MaxDepth {
			continue
		}
		for _, c := range st.Calls() {
			if c.Publish != "" {
				total++
				continue
			}
			total += max(c.Fanout, 1) * g.costAt(c.Service, c.Endpoint, depth+1)
			total = min(total, maxCallsPerCall+1)
		}
	}
	g.cost[key] = total
	return total
}

// endpointPath is the field path of service's endpoint.
func (g *graphWalk) endpointPath(service, endpoint string) string {
	for i, s := range g.v.sc.Topology.Services {
		if s.Name != service {
			continue
		}
		for j, e := range s.Endpoints {
			if e.Name == endpoint {
				return index(join(index("topology.services", i), "endpoints"), j)
			}
		}
	}
	return "topology.services"
}

// stepPath is the field path of the step of caller ("service/endpoint")
// that calls service's endpoint.
func (g *graphWalk) stepPath(caller, service, endpoint string) string {
	csvc, cep, _ := strings.Cut(caller, "/")
	base := g.endpointPath(csvc, cep)
	for _, s := range g.v.sc.Topology.Services {
		if s.Name != csvc {
			continue
		}
		for _, e := range s.Endpoints {
			if e.Name != cep {
				continue
			}
			for k, st := range e.Calls {
				for pi, c := range st.Calls() {
					if c.Service == service && c.Endpoint == endpoint {
						p := index(join(base, "calls"), k)
						if len(st.Parallel) > 0 {
							p = index(join(p, "parallel"), pi)
						}
						return join(p, "service")
					}
				}
			}
		}
	}
	return base
}

// String is the step's callees as reports name them
// ("inventory/Inventory.Get x3", "publish orders").
func (s *Step) String() string {
	var parts []string
	for _, c := range s.Calls() {
		if c.Publish != "" {
			parts = append(parts, "publish "+c.Publish)
			continue
		}
		d := c.Service + "/" + c.Endpoint
		if c.Fanout > 1 {
			d += fmt.Sprintf(" x%d", c.Fanout)
		}
		parts = append(parts, d)
	}
	return strings.Join(parts, " + ")
}
