package scenario

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	fwerrors "github.com/microsim/microsim/framework/errors"
)

// Limits on sizes, so that a scenario cannot ask for an absurd world.
const (
	maxDuration  = 24 * time.Hour
	maxInstances = 1000
	maxWindows   = 100_000
	maxRate      = 1e6
	maxWorkers   = 100_000
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
var endpointRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks a scenario built in Go and returns every problem as an
// ErrorList (nil when it is valid). Paths name the fields; there are no
// positions.
func (sc *Scenario) Validate() error {
	p := newProblems("", nil)
	validate(sc, p)
	return p.list.sort().Err()
}

// validator checks one scenario against the schema's rules and the
// engine's abilities.
type validator struct {
	sc *Scenario
	p  *problems
	// index of names, built as the sections are checked
	services  map[string]*Service
	instances map[string]bool // node names "svc-i"
	zones     map[string]bool
	clients   map[string]*Client
	workloads map[string]bool
	faults    map[string]bool
	topics    map[string]bool // topics some service subscribes to
	// size is the world's size (limits.go); tooLarge is set when it
	// exceeds a limit, and turns off the checks that list every instance.
	size     worldSize
	tooLarge bool
	eps      map[*Service]map[string]Latency // endpointIndex
	// cost is the calls one call of "service/Endpoint" causes down its
	// call graph, itself included (callGraph; 1 when it makes none).
	cost map[string]int
}

func validate(sc *Scenario, p *problems) {
	v := &validator{sc: sc, p: p, services: map[string]*Service{}, instances: map[string]bool{},
		zones: map[string]bool{}, clients: map[string]*Client{}, workloads: map[string]bool{}, faults: map[string]bool{}, topics: map[string]bool{}}
	v.limitsFirst()
	if v.tooLarge {
		// Checking every part of a world too large to run would take long
		// and say little: the one error says what is too large.
		v.limitsLast()
		return
	}
	v.top()
	v.topology()
	v.callGraph()
	v.clientsSection()
	v.workloadsSection()
	v.faultsSection()
	v.assertionsSection()
	v.limitsLast()
}

func (v *validator) top() {
	sc := v.sc
	if strings.TrimSpace(sc.Name) == "" {
		v.p.add("name", "a scenario needs a name")
	}
	switch {
	case sc.Duration <= 0:
		v.p.add("duration", "must be positive, got %v", sc.Duration)
	case sc.Duration.Std() > maxDuration:
		v.p.add("duration", "must be at most %v, got %v", maxDuration, sc.Duration)
	}
	switch w := sc.Window; {
	case w < 0:
		v.p.add("window", "must be positive, got %v", w)
	case w > 0 && w.Std() < time.Millisecond:
		v.p.add("window", "must be at least 1ms, got %v", w)
	case w > 0 && sc.Duration > 0 && int64(sc.Duration/w) > maxWindows:
		v.p.add("window", "gives %d windows over %v; at most %d", sc.Duration/w, sc.Duration, maxWindows)
	}
	if sc.Window == 0 && sc.Duration > 0 && int64(sc.Duration.Std()/time.Second) > maxWindows {
		v.p.add("window", "the default 1s window gives more than %d windows over %v; set a wider window", maxWindows, sc.Duration)
	}
}

func (v *validator) name(path, kind, name string) bool {
	switch {
	case name == "":
		v.p.add(path, "a %s needs a name", kind)
	case !nameRE.MatchString(name):
		v.p.add(path, "%s name %q may hold only letters, digits, '-' and '_', and must start with a letter or digit", kind, name)
	default:
		return true
	}
	return false
}

func (v *validator) nonNegative(path string, d Duration) {
	if d < 0 {
		v.p.add(path, "must not be negative, got %v", d)
	}
}

func (v *validator) probability(path string, x float64) {
	if x < 0 || x > 1 {
		v.p.add(path, "must be a probability in [0, 1], got %g", x)
	}
}

func (v *validator) errorCode(path, code string) {
	if code == "" {
		return
	}
	if _, err := fwerrors.ParseCode(code); err != nil {
		v.p.add(path, "unknown error code %q; known: %s", code, strings.Join(errorCodeNames(), ", "))
	}
}

func errorCodeNames() []string {
	var out []string
	for c := fwerrors.Code(0); c <= fwerrors.ResourceExhausted; c++ {
		out = append(out, c.String())
	}
	return out
}

func (v *validator) topology() {
	t := &v.sc.Topology
	v.nonNegative("topology.registry.ttl", t.Registry.TTL)
	v.nonNegative("topology.registry.heartbeat", t.Registry.Heartbeat)
	ttl := t.Registry.TTL
	if ttl == 0 {
		ttl = D(DefaultTTL)
	}
	if t.Registry.Heartbeat > 0 && t.Registry.Heartbeat >= ttl {
		v.p.add("topology.registry.heartbeat", "must be shorter than the TTL %v, got %v", ttl, t.Registry.Heartbeat)
	}
	if len(t.Services) == 0 {
		v.p.add("topology.services", "the topology needs at least one service")
	}
	for i := range t.Services {
		v.service(index("topology.services", i), &t.Services[i])
	}
}

func (v *validator) service(path string, s *Service) {
	if v.name(join(path, "name"), "service", s.Name) {
		if _, dup := v.services[s.Name]; dup {
			v.p.add(join(path, "name"), "service %q is defined twice", s.Name)
		}
		v.services[s.Name] = s
	}
	switch {
	case s.Instances < 1:
		v.p.add(join(path, "instances"), "a service needs at least 1 instance, got %d", s.Instances)
	case s.Instances > maxInstances:
		v.p.add(join(path, "instances"), "at most %d instances, got %d", maxInstances, s.Instances)
	}
	for i := range s.Instances {
		if v.tooLarge || s.Instances > maxInstances {
			break
		}
		v.instances[InstanceName(s.Name, i)] = true
	}
	for i, z := range s.Zones {
		if v.name(index(join(path, "zones"), i), "zone", z) {
			v.zones[z] = true
		}
	}
	v.labels(join(path, "labels"), s.Labels)
	if s.Capacity < 0 {
		v.p.add(join(path, "capacity"), "must not be negative, got %d", s.Capacity)
	}
	if len(s.Endpoints) == 0 && !s.IsGo() && len(s.Subscribers) == 0 {
		v.p.add(join(path, "endpoints"), "a service needs at least one endpoint or subscriber (or implementation: go, with its handlers supplied by the Go test)")
	}
	v.serviceKind(path, s)
	v.subscribers(path, s)
	seen := map[string]bool{}
	for i := range s.Endpoints {
		e := &s.Endpoints[i]
		ep := index(join(path, "endpoints"), i)
		switch {
		case e.Name == "":
			v.p.add(join(ep, "name"), "an endpoint needs a name such as \"Greeter.Hello\"")
		case !endpointRE.MatchString(e.Name):
			v.p.add(join(ep, "name"), "endpoint name %q must have the form \"Handler.Method\"", e.Name)
		case seen[e.Name]:
			v.p.add(join(ep, "name"), "endpoint %q is defined twice", e.Name)
		}
		seen[e.Name] = true
		v.latency(join(ep, "latency"), e.Latency)
		v.probability(join(ep, "error_rate"), e.ErrorRate)
		v.errorCode(join(ep, "error_code"), e.ErrorCode)
	}
	for i := range s.Overrides {
		o := &s.Overrides[i]
		op := index(join(path, "overrides"), i)
		if len(o.Instances) == 0 {
			v.p.add(join(op, "instances"), "an override needs the indexes of the instances it changes")
		}
		for j, k := range o.Instances {
			if k < 0 || (s.Instances > 0 && k >= s.Instances) {
				v.p.add(index(join(op, "instances"), j), "instance %d does not exist: service %q has instances 0 to %d", k, s.Name, s.Instances-1)
			}
		}
		if o.Zone != "" && v.name(join(op, "zone"), "zone", o.Zone) {
			v.zones[o.Zone] = true
		}
		v.labels(join(op, "labels"), o.Labels)
		if o.Latency != nil {
			v.latency(join(op, "latency"), *o.Latency)
		}
		if o.LatencyFactor < 0 {
			v.p.add(join(op, "latency_factor"), "must not be negative, got %g", o.LatencyFactor)
		}
		if o.ErrorRate != nil {
			v.probability(join(op, "error_rate"), *o.ErrorRate)
		}
	}
}

func (v *validator) labels(path string, m map[string]string) {
	for _, k := range sortedKeys(m) {
		switch {
		case k == "":
			v.p.add(path, "a label needs a key")
		case k == ZoneKey:
			v.p.add(join(path, k), "the %q label is set from zones; use zones (or an override's zone)", ZoneKey)
		}
	}
}

// latency checks a distribution: a known dist, its parameters, and no
// parameter of another dist.
func (v *validator) latency(path string, l Latency) {
	dist := l.Dist
	if dist == "" {
		dist = DistConstant
	}
	used := map[string]bool{"min": true, "max": true}
	need := func(field string, d Duration) {
		used[field] = true
		if d <= 0 {
			v.p.add(join(path, field), "%s latency needs a positive %s, got %v", dist, field, d)
		}
	}
	switch dist {
	case DistConstant:
		used["value"] = true
		v.nonNegative(join(path, "value"), l.Value)
	case DistUniform:
		need("max", l.Max)
		v.nonNegative(join(path, "min"), l.Min)
		if l.Max > 0 && l.Min > l.Max {
			v.p.add(join(path, "min"), "min %v is above max %v", l.Min, l.Max)
		}
	case DistNormal:
		need("mean", l.Mean)
		used["stddev"] = true
		v.nonNegative(join(path, "stddev"), l.Stddev)
	case DistLognormal:
		need("median", l.Median)
		need("p99", l.P99)
		if l.Median > 0 && l.P99 > 0 && l.P99 < l.Median {
			v.p.add(join(path, "p99"), "p99 %v is below the median %v", l.P99, l.Median)
		}
	case DistExponential:
		need("mean", l.Mean)
	case DistPareto:
		need("scale", l.Scale)
		used["alpha"] = true
		if l.Alpha <= 0 {
			v.p.add(join(path, "alpha"), "pareto latency needs a positive alpha, got %g", l.Alpha)
		}
	default:
		v.p.add(join(path, "dist"), "unknown distribution %q; known: %s", l.Dist, strings.Join(distNames, ", "))
		return
	}
	if dist != DistUniform {
		v.nonNegative(join(path, "min"), l.Min)
		v.nonNegative(join(path, "max"), l.Max)
		if l.Min > 0 && l.Max > 0 && l.Min > l.Max {
			v.p.add(join(path, "min"), "min %v is above max %v", l.Min, l.Max)
		}
	}
	set := map[string]bool{"value": l.Value != 0, "mean": l.Mean != 0, "stddev": l.Stddev != 0,
		"median": l.Median != 0, "p99": l.P99 != 0, "scale": l.Scale != 0, "alpha": l.Alpha != 0}
	for _, f := range sortedKeys(set) {
		if set[f] && !used[f] {
			v.p.add(join(path, f), "%s does not apply to the %s distribution", f, dist)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (v *validator) clientsSection() {
	for i := range v.sc.Clients {
		c := &v.sc.Clients[i]
		path := index("clients", i)
		if v.name(join(path, "name"), "client", c.Name) {
			if _, dup := v.clients[c.Name]; dup {
				v.p.add(join(path, "name"), "client %q is defined twice", c.Name)
			}
			if v.services[c.Name] != nil {
				v.p.add(join(path, "name"), "client %q has the name of a service", c.Name)
			}
			v.clients[c.Name] = c
		}
		if c.Zone != "" && v.name(join(path, "zone"), "zone", c.Zone) {
			v.zones[c.Zone] = true
		}
		v.clientConfig(path, c)
	}
}

// clientConfig checks what a client does (timeouts, selector, retries,
// hedging): the clients section's and a service's client block.
func (v *validator) clientConfig(path string, c *Client) {
	v.nonNegative(join(path, "timeout"), c.Timeout)
	v.nonNegative(join(path, "attempt_timeout"), c.AttemptTimeout)
	v.selector(join(path, "selector"), c)
	if r := c.Retries; r != nil {
		rp := join(path, "retries")
		if r.MaxAttempts < 0 {
			v.p.add(join(rp, "max_attempts"), "must be at least 1, got %d", r.MaxAttempts)
		}
		v.nonNegative(join(rp, "backoff.base"), r.Backoff.Base)
		v.nonNegative(join(rp, "backoff.cap"), r.Backoff.Cap)
		if r.Backoff.Cap > 0 && r.Backoff.Base > r.Backoff.Cap {
			v.p.add(join(rp, "backoff.base"), "base %v is above cap %v", r.Backoff.Base, r.Backoff.Cap)
		}
		if r.Budget != nil {
			v.budget(join(rp, "budget"), r.Budget)
		}
	}
	if h := c.Hedging; h != nil {
		hp := join(path, "hedging")
		v.nonNegative(join(hp, "delay"), h.Delay)
		if h.Percentile != 0 {
			v.percentile(join(hp, "percentile"), h.Percentile)
		}
		if (h.Delay == 0) == (h.Percentile == 0) {
			v.p.add(hp, "hedging needs a delay or a percentile (one of them)")
		}
		if h.MaxHedges < 0 {
			v.p.add(join(hp, "max_hedges"), "must not be negative, got %d", h.MaxHedges)
		}
	}
}

func (v *validator) budget(path string, b *BudgetConfig) {
	v.probability(join(path, "ratio"), b.Ratio)
	if b.MinPerSecond < 0 {
		v.p.add(join(path, "min_per_second"), "must not be negative, got %g", b.MinPerSecond)
	}
}

func (v *validator) percentile(path string, x float64) {
	if x <= 0 || x > 100 {
		v.p.add(path, "a percentile must be in (0, 100], got %g", x)
	}
}

func (v *validator) selector(path string, c *Client) {
	s := &c.Selector
	if s.Strategy != "" {
		if !slices.Contains(strategyNames(), s.Strategy) {
			v.p.add(join(path, "strategy"), "unknown strategy %q; known: %s", s.Strategy, strings.Join(strategyNames(), ", "))
		} else {
		}
	}
	v.nonNegative(join(path, "cache_ttl"), s.CacheTTL)
	for i := range s.Filters {
		f := &s.Filters[i]
		fp := index(join(path, "filters"), i)
		n := 0
		if len(f.Labels) > 0 {
			n++
			v.labelsMatch(join(fp, "labels"), f.Labels)
		}
		if f.Zone != "" {
			n++
			if !v.zones[f.Zone] {
				v.p.add(join(fp, "zone"), "zone %q has no instance", f.Zone)
			}
		}
		if f.ZoneAffinity != nil {
			n++
			if f.ZoneAffinity.MinHealthy < 0 {
				v.p.add(join(fp, "zone_affinity.min_healthy"), "must not be negative, got %d", f.ZoneAffinity.MinHealthy)
			}
			if c.Zone == "" {
				v.p.add(join(fp, "zone_affinity"), "zone affinity needs the client's zone (clients[].zone)")
			}
		}
		if n != 1 {
			v.p.add(fp, "a filter sets exactly one of labels, zone, zone_affinity; this one sets %d", n)
		}
	}
	if o := s.Outlier; o != nil {
		op := join(path, "outlier")
		if o.ConsecutiveFailures < 0 {
			v.p.add(join(op, "consecutive_failures"), "must not be negative, got %d", o.ConsecutiveFailures)
		}
		v.probability(join(op, "min_success_rate"), o.MinSuccessRate)
		v.probability(join(op, "max_ejected_share"), o.MaxEjectedShare)
		v.nonNegative(join(op, "interval"), o.Interval)
		v.nonNegative(join(op, "base_ejection"), o.BaseEjection)
	}
}

func (v *validator) labelsMatch(path string, m map[string]string) {
	for _, k := range sortedKeys(m) {
		if k == "" {
			v.p.add(path, "a label needs a key")
		}
	}
}

func (v *validator) clientNames() []string {
	if len(v.sc.Clients) == 0 {
		return []string{DefaultClient}
	}
	out := make([]string, 0, len(v.sc.Clients))
	for _, c := range v.sc.Clients {
		out = append(out, c.Name)
	}
	return out
}

func (v *validator) workloadsSection() {
	if len(v.sc.Workloads) == 0 {
		v.p.add("workloads", "a scenario needs at least one workload")
	}
	for i := range v.sc.Workloads {
		v.workload(index("workloads", i), i, &v.sc.Workloads[i])
	}
}

func (v *validator) workload(path string, i int, w *Workload) {
	name := w.Name
	if name == "" {
		name = fmt.Sprintf("w%d", i)
	} else {
		v.name(join(path, "name"), "workload", name)
	}
	if v.workloads[name] {
		v.p.add(join(path, "name"), "workload %q is defined twice", name)
	}
	v.workloads[name] = true
	if w.Client != "" && !slices.Contains(v.clientNames(), w.Client) {
		v.p.add(join(path, "client"), "client %q does not exist; clients: %s", w.Client, strings.Join(v.clientNames(), ", "))
	}
	if w.Publish != nil {
		v.publishWorkload(path, w)
	} else {
		v.callWorkload(path, w)
	}
	v.streamWorkload(path, w)
	open := w.Rate != 0 || len(w.Ramp) > 0
	closed := w.Concurrency != 0
	switch {
	case open && closed:
		v.p.add(join(path, "concurrency"), "a workload is open loop (rate or ramp) or closed loop (concurrency), not both")
	case !open && !closed:
		v.p.add(path, "a workload needs a rate, a ramp or a concurrency")
	}
	if w.Rate != 0 && len(w.Ramp) > 0 {
		v.p.add(join(path, "ramp"), "give rate or ramp, not both")
	}
	if w.Rate < 0 || w.Rate > maxRate {
		v.p.add(join(path, "rate"), "must be in (0, %g] calls per second, got %g", maxRate, w.Rate)
	}
	var last Duration = -1
	peak := 0.0
	for j, r := range w.Ramp {
		rp := index(join(path, "ramp"), j)
		v.nonNegative(join(rp, "at"), r.At)
		if r.At <= last {
			v.p.add(join(rp, "at"), "ramp points must be in increasing time order: %v after %v", r.At, last)
		}
		last = r.At
		if r.Rate < 0 || r.Rate > maxRate {
			v.p.add(join(rp, "rate"), "must be in [0, %g] calls per second, got %g", maxRate, r.Rate)
		}
		peak = max(peak, r.Rate)
	}
	if len(w.Ramp) > 0 && peak == 0 {
		v.p.add(join(path, "ramp"), "every rate of the ramp is 0")
	}
	if w.Arrivals != "" {
		if w.Arrivals != ArrivalsPoisson && w.Arrivals != ArrivalsUniform {
			v.p.add(join(path, "arrivals"), "unknown arrivals %q; known: %s, %s", w.Arrivals, ArrivalsPoisson, ArrivalsUniform)
		} else if closed && !open {
			v.p.add(join(path, "arrivals"), "arrivals apply to open-loop workloads (rate or ramp)")
		}
	}
	if w.Concurrency < 0 || w.Concurrency > maxWorkers {
		v.p.add(join(path, "concurrency"), "must be in [1, %d], got %d", maxWorkers, w.Concurrency)
	}
	v.nonNegative(join(path, "think"), w.Think)
	if w.Think > 0 && !closed {
		v.p.add(join(path, "think"), "think applies to closed-loop workloads (concurrency)")
	}
	if w.Keys < 0 {
		v.p.add(join(path, "keys"), "must not be negative, got %d", w.Keys)
	}
	v.nonNegative(join(path, "start"), w.Start)
	v.nonNegative(join(path, "duration"), w.Duration)
	if v.sc.Duration > 0 {
		if w.Start >= v.sc.Duration {
			v.p.add(join(path, "start"), "starts at %v, at or after the scenario's end (%v)", w.Start, v.sc.Duration)
		} else if w.Duration > 0 && w.Start+w.Duration > v.sc.Duration {
			v.p.add(join(path, "duration"), "runs until %v, after the scenario's end (%v)", w.Start+w.Duration, v.sc.Duration)
		}
	}
}

// Share is the entry's relative share of calls: its Weight, or 1.
func (m MixEntry) Share() float64 {
	if m.Weight == 0 {
		return 1
	}
	return m.Weight
}

// callWorkload checks what a workload that calls a service calls.
func (v *validator) callWorkload(path string, w *Workload) {
	svc := v.services[w.Service]
	switch {
	case w.Service == "":
		v.p.add(join(path, "service"), "a workload needs the service it calls")
	case svc == nil:
		v.p.add(join(path, "service"), "service %q does not exist; services: %s", w.Service, strings.Join(sortedKeys(v.services), ", "))
	}
	hasEndpoint := func(ep string) bool { return v.serves(svc, ep) }
	v.request(join(path, "request"), svc, w.Request)
	switch {
	case w.Endpoint != "" && len(w.Mix) > 0:
		v.p.add(join(path, "mix"), "give endpoint or mix, not both")
	case w.Endpoint == "" && len(w.Mix) == 0:
		v.p.add(join(path, "endpoint"), "a workload needs an endpoint (or a mix)")
	case w.Endpoint != "" && !hasEndpoint(w.Endpoint):
		v.p.add(join(path, "endpoint"), "service %q has no endpoint %q", w.Service, w.Endpoint)
	}
	total := 0.0
	for j, m := range w.Mix {
		mp := index(join(path, "mix"), j)
		if m.Endpoint == "" {
			v.p.add(join(mp, "endpoint"), "a mix entry needs an endpoint")
		} else if !hasEndpoint(m.Endpoint) {
			v.p.add(join(mp, "endpoint"), "service %q has no endpoint %q", w.Service, m.Endpoint)
		}
		if m.Weight < 0 {
			v.p.add(join(mp, "weight"), "must not be negative, got %g", m.Weight)
		}
		total += m.Share()
	}
	if len(w.Mix) > 0 && total <= 0 {
		v.p.add(join(path, "mix"), "the weights add up to 0")
	}
}
