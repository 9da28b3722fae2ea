package scenario

// Call graphs: an endpoint of a synthetic service may call other
// services' endpoints after its own work, in steps. Each hop goes through
// the calling instance's own framework client (its selector, retries,
// budget, hedging and timeouts: the service's `client` block, per-step
// overrides on top), so retries multiply tier by tier exactly as they
// would in the real system. The request's remaining deadline travels with
// each hop unless the service sets propagate_deadline: false.

// Implementation values of Service.Implementation.
const (
	// ImplementationSynthetic is a service whose handlers the scenario
	// describes (latency, error rate, calls): the default.
	ImplementationSynthetic = "synthetic"
	// ImplementationGo is a service whose handlers the Go test running the
	// scenario supplies (WithService, WithServer).
	ImplementationGo = "go"
)

// Step is one step of an endpoint's call graph: one call, the same call
// to several instances at once (Fanout), or different calls at once
// (Parallel). A step with several calls succeeds once Need of them
// succeeded; the calls still running then are cancelled.
type Step struct {
	// Service and Endpoint name the callee (or give Parallel).
	Service  string `yaml:"service"`
	Endpoint string `yaml:"endpoint"`
	// Fanout makes the call this many times at once (default 1); each
	// copy goes through the selector like any call.
	Fanout int `yaml:"fanout"`
	// Parallel are different calls made at once (instead of Service and
	// Endpoint). An entry may have its own Fanout; it may not nest
	// Parallel.
	Parallel []Step `yaml:"parallel"`
	// Need is how many of the step's calls must succeed (default all):
	// the step ends as soon as Need succeeded (the rest are cancelled) or
	// as soon as that cannot happen any more.
	Need int `yaml:"need"`
	// Optional: the step's failure does not fail the endpoint.
	Optional bool `yaml:"optional"`
	// MaxDepth bounds a recursive call graph: the step's calls are made
	// only by a call at a depth below MaxDepth (a top-level call has depth
	// 0, a call it causes depth 1, ...). A cycle is allowed when one of its
	// steps has MaxDepth; it ends at that depth.
	MaxDepth int `yaml:"max_depth"`
	// Request is the JSON request sent to a service implemented in Go
	// (default "{}"); synthetic services need none.
	Request string `yaml:"request"`

	// Per-edge client settings, over the calling service's client.

	// Timeout bounds the call, retries included (default: the caller's
	// remaining deadline, or the client's timeout).
	Timeout Duration `yaml:"timeout"`
	// AttemptTimeout bounds each attempt.
	AttemptTimeout Duration `yaml:"attempt_timeout"`
	// Retries replaces the client's retry policy for this call (a budget
	// is the client's: set it in the service's client block).
	Retries *RetryConfig `yaml:"retries"`
	// Hedging replaces the client's hedging for this call.
	Hedging *HedgingConfig `yaml:"hedging"`
	// Idempotent marks the call safe to run more than once.
	Idempotent bool `yaml:"idempotent"`

	// Publish makes the step publish one event on this topic through the
	// instance's client (instead of a call).
	Publish string `yaml:"publish"`
}

// Calls returns the step's calls: itself, or its Parallel entries.
func (s *Step) Calls() []*Step {
	if len(s.Parallel) == 0 {
		return []*Step{s}
	}
	out := make([]*Step, len(s.Parallel))
	for i := range s.Parallel {
		out[i] = &s.Parallel[i]
	}
	return out
}

// width is the number of calls the step makes.
func (s *Step) width() int {
	n := 0
	for _, c := range s.Calls() {
		n += max(c.Fanout, 1)
	}
	return n
}

// Needed is how many of the step's calls must succeed: Need, or all of
// them.
func (s *Step) Needed() int {
	if s.Need > 0 {
		return s.Need
	}
	return s.width()
}

// IsGo reports whether the service's handlers come from the Go test.
func (s *Service) IsGo() bool { return s.Implementation == ImplementationGo }

// Propagates reports whether the service's outgoing calls carry the
// incoming request's deadline (PropagateDeadline, default true).
func (s *Service) Propagates() bool { return s.PropagateDeadline == nil || *s.PropagateDeadline }

// B returns a pointer to v, for the optional fields of scenarios built in Go.
func B(v bool) *bool { return &v }
