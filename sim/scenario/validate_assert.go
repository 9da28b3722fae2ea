package scenario

import (
	"strings"
)

// edgeCheck validates an edge assertion.
func (v *validator) edgeCheck(path string, c *EdgeCheck) {
	v.scope(path, Scope{Endpoint: c.Endpoint, Fault: c.Fault, From: c.From, To: c.To})
	if c.Workload != "" {
		v.p.add(join(path, "workload"), "an edge is between services: workload does not apply (use caller)")
	}
	v.knownService(join(path, "service"), c.Service, true)
	v.knownService(join(path, "caller"), c.Caller, false)
	if c.MinSuccessRate != nil {
		v.probability(join(path, "min_success_rate"), *c.MinSuccessRate)
	}
	if c.MaxAttemptsPerCall != nil && *c.MaxAttemptsPerCall < 1 {
		v.p.add(join(path, "max_attempts_per_call"), "a call makes at least 1 attempt, got %g", *c.MaxAttemptsPerCall)
	}
	if (c.Percentile != 0) != (c.MaxLatency != 0) {
		v.p.add(path, "percentile and max_latency go together")
	}
	if c.Percentile != 0 {
		v.percentile(join(path, "percentile"), c.Percentile)
	}
	if c.MinSuccessRate == nil && c.MaxAttemptsPerCall == nil && c.Percentile == 0 {
		v.p.add(path, "an edge assertion needs min_success_rate, max_attempts_per_call, or percentile with max_latency")
	}
}

// amplificationCheck validates an amplification assertion.
func (v *validator) amplificationCheck(path string, c *AmplificationCheck) {
	v.scope(path, Scope{Workload: c.Workload, Fault: c.Fault, From: c.From, To: c.To})
	if c.Endpoint != "" {
		v.p.add(join(path, "endpoint"), "amplification counts every attempt on the service: endpoint does not apply")
	}
	v.knownService(join(path, "service"), c.Service, true)
	if c.Max == nil && c.Min == nil {
		v.p.add(path, "an amplification assertion needs max or min")
	}
	for _, b := range []struct {
		name string
		x    *float64
	}{{"max", c.Max}, {"min", c.Min}} {
		if b.x != nil && *b.x < 0 {
			v.p.add(join(path, b.name), "must not be negative, got %g", *b.x)
		}
	}
}

// knownService checks a service name (required: it must be given).
func (v *validator) knownService(path, name string, required bool) {
	switch {
	case name == "" && required:
		v.p.add(path, "the assertion needs a service")
	case name != "" && v.services[name] == nil:
		v.p.add(path, "service %q does not exist; services: %s", name, strings.Join(sortedKeys(v.services), ", "))
	}
}
