package scenario

import (
	"fmt"
	"slices"
	"strings"
)

func (v *validator) faultsSection() {
	// Names first, so that a fault may be named by any assertion.
	for i := range v.sc.Faults {
		f := &v.sc.Faults[i]
		name := f.NameAt(i)
		if f.Name != "" {
			v.name(join(index("faults", i), "name"), "fault", f.Name)
		}
		if v.faults[name] {
			v.p.add(join(index("faults", i), "name"), "fault %q is defined twice", name)
		}
		v.faults[name] = true
	}
	for i := range v.sc.Faults {
		v.fault(index("faults", i), &v.sc.Faults[i])
	}
}

func (v *validator) fault(path string, f *Fault) {
	kinds := f.kinds()
	switch len(kinds) {
	case 0:
		v.p.add(path, "a fault needs a kind: one of %s", strings.Join(faultKindNames, ", "))
	case 1:
	default:
		v.p.add(path, "a fault has exactly one kind; this one has %s (split it into %d faults)", strings.Join(kinds, " and "), len(kinds))
	}
	v.nonNegative(join(path, "at"), f.At)
	v.nonNegative(join(path, "for"), f.For)
	v.nonNegative(join(path, "until"), f.Until)
	v.nonNegative(join(path, "every"), f.Every)
	v.nonNegative(join(path, "stagger"), f.Stagger)
	if d := v.sc.Duration; d > 0 && f.At >= d {
		v.p.add(join(path, "at"), "starts at %v, at or after the scenario's end (%v)", f.At, d)
	}
	if f.Until > 0 && f.Until <= f.At {
		v.p.add(join(path, "until"), "until %v is not after at %v", f.Until, f.At)
	}
	if f.Every > 0 {
		if f.For == 0 {
			v.p.add(join(path, "every"), "a repeated fault needs for (how long each occurrence lasts)")
		} else if f.Every <= f.For {
			v.p.add(join(path, "every"), "every %v must be longer than for %v", f.Every, f.For)
		}
	} else if f.For > 0 && f.Until > 0 {
		v.p.add(join(path, "until"), "give for or until, not both (both only with every)")
	}
	if len(kinds) != 1 {
		return
	}
	kind := kinds[0]
	kp := join(path, kind)
	switch kind {
	case "crash":
		v.target(join(kp, "target"), f.Crash.Target, true)
	case "stop":
		v.target(join(kp, "target"), f.Stop.Target, true)
	case "pause":
		v.target(join(kp, "target"), f.Pause.Target, true)
	case "slow":
		s := f.Slow
		v.target(join(kp, "target"), s.Target, true)
		if s.Factor < 0 {
			v.p.add(join(kp, "factor"), "must not be negative, got %g", s.Factor)
		}
		v.latency(join(kp, "add"), s.Add)
		if (s.Factor == 0 || s.Factor == 1) && s.Add == (Latency{}) {
			v.p.add(kp, "a slow fault needs a factor other than 1 or added latency (add)")
		}
	case "errors":
		e := f.Errors
		v.target(join(kp, "target"), e.Target, true)
		v.probability(join(kp, "rate"), e.Rate)
		if e.Rate == 0 {
			v.p.add(join(kp, "rate"), "an errors fault needs a rate in (0, 1]")
		}
		v.errorCode(join(kp, "code"), e.Code)
		if e.Endpoint != "" {
			if s := v.services[e.Target.Service]; s != nil && !slices.ContainsFunc(s.Endpoints, func(x Endpoint) bool { return x.Name == e.Endpoint }) {
				v.p.add(join(kp, "endpoint"), "service %q has no endpoint %q", s.Name, e.Endpoint)
			}
		}
	case "partition":
		p := f.Partition
		v.hostSet(join(kp, "from"), p.From)
		v.hostSet(join(kp, "to"), p.To)
		if p.Mode != "" && p.Mode != "refuse" && p.Mode != "drop" {
			v.p.add(join(kp, "mode"), "unknown mode %q; known: refuse, drop", p.Mode)
		}
	case "link_latency":
		l := f.LinkLatency
		v.hostSet(join(kp, "from"), l.From)
		v.hostSet(join(kp, "to"), l.To)
		v.latency(join(kp, "latency"), l.Latency)
	case "loss":
		l := f.Loss
		v.hostSet(join(kp, "from"), l.From)
		v.hostSet(join(kp, "to"), l.To)
		v.probability(join(kp, "rate"), l.Rate)
	case "broker":
		b := f.Broker
		v.hostSet(join(kp, "from"), b.From)
		if b.Topic != "" {
			v.topic(join(kp, "topic"), b.Topic)
		}
		v.probability(join(kp, "drop"), b.Drop)
		v.probability(join(kp, "duplicate"), b.Duplicate)
		if b.Delay != (Latency{}) {
			v.latency(join(kp, "delay"), b.Delay)
		}
		if !b.Unavailable && b.Drop == 0 && b.Duplicate == 0 && b.Delay == (Latency{}) {
			v.p.add(kp, "a broker fault needs unavailable, drop, delay or duplicate")
		}
		if b.Unavailable && (b.Drop != 0 || b.Duplicate != 0 || b.Delay != (Latency{})) {
			v.p.add(kp, "an unavailable broker publishes nothing: drop, delay and duplicate do not apply")
		}
	}
}

// NameAt is the name of the fault in reports when it is entry i of the
// timeline: its Name, or "<kind>-<i>".
func (f *Fault) NameAt(i int) string {
	if f.Name != "" {
		return f.Name
	}
	kind := f.Kind()
	if kind == "" {
		kind = "fault"
	}
	return fmt.Sprintf("%s-%d", kind, i)
}

// target checks a target against the topology.
func (v *validator) target(path string, t Target, required bool) {
	if required && t.Service == "" && t.Zone == "" && len(t.Labels) == 0 {
		v.p.add(path, "a target needs a service, a zone or labels")
	}
	svc := v.services[t.Service]
	if t.Service != "" && svc == nil {
		v.p.add(join(path, "service"), "service %q does not exist; services: %s", t.Service, strings.Join(sortedKeys(v.services), ", "))
	}
	if t.Instance != nil && len(t.Instances) > 0 {
		v.p.add(join(path, "instances"), "give instance or instances, not both")
	}
	idx := slices.Clone(t.Instances)
	if t.Instance != nil {
		idx = append(idx, *t.Instance)
	}
	if len(idx) > 0 && t.Service == "" {
		v.p.add(path, "instance indexes need the service they belong to")
	}
	for _, k := range idx {
		if svc != nil && (k < 0 || k >= svc.Instances) {
			p := join(path, "instances")
			if t.Instance != nil && k == *t.Instance {
				p = join(path, "instance")
			}
			v.p.add(p, "instance %d does not exist: service %q has instances 0 to %d", k, svc.Name, svc.Instances-1)
		}
	}
	if t.Zone != "" && !v.zones[t.Zone] {
		v.p.add(join(path, "zone"), "zone %q has no instance", t.Zone)
	}
	v.labelsMatch(join(path, "labels"), t.Labels)
	if t.Random < 0 {
		v.p.add(join(path, "random"), "must not be negative, got %d", t.Random)
	}
	if t.Share < 0 || t.Share > 1 {
		v.p.add(join(path, "share"), "must be in (0, 1], got %g", t.Share)
	}
	if t.Random > 0 && t.Share > 0 {
		v.p.add(join(path, "share"), "give random or share, not both")
	}
}

func (v *validator) hostSet(path string, h HostSet) {
	if h.Zone != "" && !v.zones[h.Zone] {
		v.p.add(join(path, "zone"), "zone %q has no host", h.Zone)
	}
	if h.Service != "" && v.services[h.Service] == nil {
		v.p.add(join(path, "service"), "service %q does not exist", h.Service)
	}
	if h.Client != "" && !slices.Contains(v.clientNames(), h.Client) {
		v.p.add(join(path, "client"), "client %q does not exist", h.Client)
	}
}

func (v *validator) assertionsSection() {
	for i := range v.sc.Assertions {
		v.assertion(index("assertions", i), &v.sc.Assertions[i])
	}
}

func (v *validator) assertion(path string, a *Assertion) {
	kinds := a.kinds()
	switch len(kinds) {
	case 0:
		v.p.add(path, "an assertion needs a kind: one of %s", strings.Join(assertionKindNames, ", "))
		return
	case 1:
	default:
		v.p.add(path, "an assertion has exactly one kind; this one has %s", strings.Join(kinds, " and "))
		return
	}
	kp := join(path, kinds[0])
	switch {
	case a.SuccessRate != nil:
		c := a.SuccessRate
		v.scope(kp, c.Scope)
		v.window(join(kp, "window"), c.Window)
		v.probability(join(kp, "min"), c.Min)
		if c.Max != nil {
			v.probability(join(kp, "max"), *c.Max)
			if *c.Max < c.Min {
				v.p.add(join(kp, "max"), "max %g is below min %g", *c.Max, c.Min)
			}
		}
	case a.Latency != nil:
		c := a.Latency
		v.scope(kp, c.Scope)
		v.window(join(kp, "window"), c.Window)
		v.percentile(join(kp, "percentile"), c.Percentile)
		switch {
		case c.Max < 0 || c.Min < 0:
			v.p.add(kp, "max and min must not be negative, got max %v, min %v", c.Max, c.Min)
		case c.Max == 0 && c.Min == 0:
			v.p.add(join(kp, "max"), "a latency assertion needs a positive max (or a min)")
		case c.Max > 0 && c.Min > c.Max:
			v.p.add(join(kp, "min"), "min %v is above max %v", c.Min, c.Max)
		}
	case a.TrafficShare != nil:
		v.trafficShare(kp, a.TrafficShare)
	case a.Retries != nil:
		v.count(kp, a.Retries)
	case a.Hedges != nil:
		v.count(kp, a.Hedges)
		if a.Hedges.Scope != (Scope{}) {
			v.p.add(kp, "hedges are counted for the whole run: workload, endpoint, fault, from and to do not apply")
		}
	case a.Recovery != nil:
		c := a.Recovery
		if c.Fault == "" {
			v.p.add(join(kp, "fault"), "a recovery assertion needs the name of a fault")
		} else if !v.faults[c.Fault] {
			v.p.add(join(kp, "fault"), "fault %q does not exist; faults: %s", c.Fault, strings.Join(sortedKeys(v.faults), ", "))
		}
		if c.Within <= 0 {
			v.p.add(join(kp, "within"), "must be positive, got %v", c.Within)
		}
		v.window(join(kp, "window"), c.Window)
		v.probability(join(kp, "min_success_rate"), c.MinSuccessRate)
		v.scope(kp, Scope{Workload: c.Workload, Endpoint: c.Endpoint})
	case a.Edge != nil:
		v.edgeCheck(kp, a.Edge)
	case a.Amplification != nil:
		v.amplificationCheck(kp, a.Amplification)
	case a.Delivery != nil:
		v.deliveryCheck(kp, a.Delivery)
	case a.Stream != nil:
		v.streamCheck(kp, a.Stream)
	}
}

func (v *validator) window(path string, w Duration) {
	switch {
	case w < 0:
		v.p.add(path, "must not be negative, got %v", w)
	case w > 0 && v.sc.Duration > 0 && w > v.sc.Duration:
		v.p.add(path, "window %v is longer than the scenario (%v)", w, v.sc.Duration)
	case w > 0 && v.sc.Window > 0 && w%v.sc.Window != 0:
		v.p.add(path, "window %v must be a multiple of the scenario's window %v", w, v.sc.Window)
	case w > 0 && v.sc.Window == 0 && w.Std()%DefaultWindow != 0:
		v.p.add(path, "window %v must be a multiple of the scenario's window %v", w, D(DefaultWindow))
	}
}

func (v *validator) scope(path string, s Scope) {
	if s.Workload != "" && !v.workloads[s.Workload] {
		v.p.add(join(path, "workload"), "workload %q does not exist; workloads: %s", s.Workload, strings.Join(sortedKeys(v.workloads), ", "))
	}
	if s.Endpoint != "" && !v.anyEndpoint(s.Endpoint) {
		v.p.add(join(path, "endpoint"), "no service has an endpoint %q", s.Endpoint)
	}
	if s.Fault != "" && !v.faults[s.Fault] {
		v.p.add(join(path, "fault"), "fault %q does not exist; faults: %s", s.Fault, strings.Join(sortedKeys(v.faults), ", "))
	}
	v.nonNegative(join(path, "from"), s.From)
	v.nonNegative(join(path, "to"), s.To)
	if s.To > 0 && s.To <= s.From {
		v.p.add(join(path, "to"), "to %v is not after from %v", s.To, s.From)
	}
	if d := v.sc.Duration; d > 0 && s.Fault == "" && s.From >= d {
		v.p.add(join(path, "from"), "from %v is at or after the scenario's end (%v)", s.From, d)
	}
}

func (v *validator) anyEndpoint(name string) bool {
	for _, s := range v.services {
		for _, e := range s.Endpoints {
			if e.Name == name {
				return true
			}
		}
	}
	return false
}

func (v *validator) trafficShare(path string, c *TrafficShareCheck) {
	v.scope(path, c.Scope)
	if c.Endpoint != "" {
		v.p.add(join(path, "endpoint"), "traffic share counts attempts per node for every endpoint; endpoint does not apply")
	}
	if c.Service != "" && v.services[c.Service] == nil {
		v.p.add(join(path, "service"), "service %q does not exist", c.Service)
	}
	switch {
	case c.Instance != "" && c.Zone != "":
		v.p.add(join(path, "zone"), "give instance or zone, not both")
	case c.Instance == "" && c.Zone == "":
		v.p.add(path, "a traffic share assertion needs an instance (such as \"api-1\") or a zone")
	case c.Instance != "" && !v.instances[c.Instance] && !v.tooLarge:
		v.p.add(join(path, "instance"), "instance %q does not exist; instances are named <service>-<index>, such as %q", c.Instance, v.someInstance())
	case c.Zone != "" && !v.zones[c.Zone]:
		v.p.add(join(path, "zone"), "zone %q has no instance", c.Zone)
	}
	if c.Min == nil && c.Max == nil {
		v.p.add(path, "a traffic share assertion needs min or max")
	}
	if c.Min != nil {
		v.probability(join(path, "min"), *c.Min)
	}
	if c.Max != nil {
		v.probability(join(path, "max"), *c.Max)
	}
	if c.Min != nil && c.Max != nil && *c.Min > *c.Max {
		v.p.add(join(path, "min"), "min %g is above max %g", *c.Min, *c.Max)
	}
}

func (v *validator) someInstance() string {
	names := sortedKeys(v.instances)
	if len(names) == 0 {
		return "api-0"
	}
	return names[0]
}

func (v *validator) count(path string, c *CountCheck) {
	v.scope(path, c.Scope)
	if c.MaxPerCall == nil && c.MaxTotal == nil && c.MinTotal == nil {
		v.p.add(path, "needs max_per_call, max_total or min_total")
	}
	if c.MaxPerCall != nil && *c.MaxPerCall < 0 {
		v.p.add(join(path, "max_per_call"), "must not be negative, got %g", *c.MaxPerCall)
	}
	if c.MaxTotal != nil && *c.MaxTotal < 0 {
		v.p.add(join(path, "max_total"), "must not be negative, got %d", *c.MaxTotal)
	}
	if c.MinTotal != nil && *c.MinTotal < 0 {
		v.p.add(join(path, "min_total"), "must not be negative, got %d", *c.MinTotal)
	}
	if c.MinTotal != nil && c.MaxTotal != nil && *c.MinTotal > *c.MaxTotal {
		v.p.add(join(path, "min_total"), "min_total %d is above max_total %d", *c.MinTotal, *c.MaxTotal)
	}
}
