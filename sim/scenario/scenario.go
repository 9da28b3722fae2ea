package scenario

// The scenario schema. These types are what a scenario file decodes into
// and what a Go test builds directly (the builder API). scenarios/README.md
// documents every field; the yaml tags are the file's field names.

// Scenario is one simulation: a topology, clients, workloads, a fault
// timeline and the assertions that must hold.
type Scenario struct {
	// Name identifies the scenario in reports (required).
	Name string `yaml:"name"`
	// Description says what the scenario shows (free text).
	Description string `yaml:"description"`
	// Seed seeds every random stream of the run (default 1).
	Seed uint64 `yaml:"seed"`
	// Duration is how long workloads issue calls, in virtual time (required).
	Duration Duration `yaml:"duration"`
	// Window is the width of the time windows metrics are kept in
	// (default 1s).
	Window Duration `yaml:"window"`
	// Topology is the services and the registry.
	Topology Topology `yaml:"topology"`
	// Clients are the calling hosts (default: one client named "client").
	Clients []Client `yaml:"clients"`
	// Workloads generate the calls (at least one).
	Workloads []Workload `yaml:"workloads"`
	// Faults is the fault timeline.
	Faults []Fault `yaml:"faults"`
	// Assertions must all hold for the run to pass.
	Assertions []Assertion `yaml:"assertions"`
}

// Topology is the services of the simulated world and its registry.
type Topology struct {
	// Registry configures registration TTL and heartbeat.
	Registry RegistryConfig `yaml:"registry"`
	// Services are the services, each with its instances (at least one).
	Services []Service `yaml:"services"`
}

// RegistryConfig configures how servers register.
type RegistryConfig struct {
	// TTL of a registration (default 3s): a crashed node stays listed (a
	// ghost) this long after its last heartbeat.
	TTL Duration `yaml:"ttl"`
	// Heartbeat is how often a server registers again (default TTL/3).
	Heartbeat Duration `yaml:"heartbeat"`
}

// Service is one service and its instances. Instance i runs on host
// "<name>-<i>" with node ID "<name>-<i>".
type Service struct {
	// Name of the service (required, unique).
	Name string `yaml:"name"`
	// Instances is the number of instances (required, at least 1).
	Instances int `yaml:"instances"`
	// Zones are assigned to instances in turn: instance i is in
	// zones[i % len(zones)]. The zone is node metadata "zone".
	Zones []string `yaml:"zones"`
	// Labels are node metadata every instance registers with.
	Labels map[string]string `yaml:"labels"`
	// Capacity is the most requests one instance serves at once (0:
	// unlimited); the excess is refused as unavailable.
	Capacity int `yaml:"capacity"`
	// Endpoints are the handler behaviours (at least one).
	Endpoints []Endpoint `yaml:"endpoints"`
	// Overrides change some instances (a slow node, a different zone).
	Overrides []Override `yaml:"overrides"`
	// Implementation is "synthetic" (default: the endpoints describe the
	// handlers) or "go" (the Go test running the scenario supplies them
	// with WithService or WithServer; endpoints then only name them).
	Implementation string `yaml:"implementation"`
	// Client configures the client each instance calls other services
	// with (selector, retries, budget, hedging, timeouts; its name and
	// zone are the instance's). Default: the framework's.
	Client *Client `yaml:"client"`
	// PropagateDeadline: outgoing calls carry the incoming request's
	// remaining deadline and end when it is cancelled (default true).
	// false shows what goes wrong without it: work goes on for callers
	// that gave up.
	PropagateDeadline *bool `yaml:"propagate_deadline"`
	// Subscribers are the topics the service consumes, each in a queue
	// group (one instance gets each message).
	Subscribers []Subscriber `yaml:"subscribers"`
}

// Endpoint is the behaviour of one handler method.
type Endpoint struct {
	// Name is "Handler.Method" (required).
	Name string `yaml:"name"`
	// Latency is how long the handler works (default 0).
	Latency Latency `yaml:"latency"`
	// ErrorRate is the probability in [0, 1] that a call fails.
	ErrorRate float64 `yaml:"error_rate"`
	// ErrorCode is the code failed calls return (default "internal"); a
	// framework error code name such as "unavailable" or "internal".
	ErrorCode string `yaml:"error_code"`
	// Stream makes the endpoint a bidirectional stream: it answers each
	// message after Latency (faults act per message) until the client
	// closes its side. Stream workloads call it.
	Stream bool `yaml:"stream"`
	// Calls are the calls the handler makes after its own latency, in
	// steps run one after the other (see Step). A failed step fails the
	// endpoint with the callee's error code, unless it is optional.
	Calls []Step `yaml:"calls"`
}

// Override changes some instances of a service.
type Override struct {
	// Instances are the indexes of the instances changed (required).
	Instances []int `yaml:"instances"`
	// Zone replaces the zone.
	Zone string `yaml:"zone"`
	// Labels are added to the instance's metadata.
	Labels map[string]string `yaml:"labels"`
	// Latency replaces every endpoint's latency.
	Latency *Latency `yaml:"latency"`
	// LatencyFactor multiplies every endpoint's latency (default 1).
	LatencyFactor float64 `yaml:"latency_factor"`
	// ErrorRate replaces every endpoint's error rate.
	ErrorRate *float64 `yaml:"error_rate"`
}

// Client is a calling host: a selector and a client of the framework.
type Client struct {
	// Name of the client (required, unique); its host is "client-<name>"
	// unless the name already starts with "client".
	Name string `yaml:"name"`
	// Zone is the client's zone (for zone affinity).
	Zone string `yaml:"zone"`
	// Selector configures node selection.
	Selector SelectorConfig `yaml:"selector"`
	// Retries configures the retry policy (default: 3 attempts, backoff
	// 10ms doubling to 1s).
	Retries *RetryConfig `yaml:"retries"`
	// Hedging configures backup requests (default none).
	Hedging *HedgingConfig `yaml:"hedging"`
	// Timeout bounds each call (default 5s).
	Timeout Duration `yaml:"timeout"`
	// AttemptTimeout bounds each attempt (default: only the call timeout).
	AttemptTimeout Duration `yaml:"attempt_timeout"`
}

// SelectorConfig configures a client's selector.
type SelectorConfig struct {
	// Strategy picks nodes: round_robin (default), random, and the
	// strategies of the selector package that the engine knows (see
	// scenarios/README.md).
	Strategy string `yaml:"strategy"`
	// CacheTTL is how long the selector serves a cached service before
	// refetching it (default: the selector's).
	CacheTTL Duration `yaml:"cache_ttl"`
	// Filters narrow the candidate nodes, in order.
	Filters []FilterConfig `yaml:"filters"`
	// Outlier configures outlier ejection (default none).
	Outlier *OutlierConfig `yaml:"outlier"`
}

// FilterConfig is one selector filter; set exactly one field.
type FilterConfig struct {
	// Labels keeps the nodes whose metadata has every key set to its value.
	Labels map[string]string `yaml:"labels"`
	// Zone keeps the nodes of one zone.
	Zone string `yaml:"zone"`
	// ZoneAffinity prefers the client's zone and spills over.
	ZoneAffinity *ZoneAffinityConfig `yaml:"zone_affinity"`
}

// ZoneAffinityConfig prefers nodes in the client's zone while enough of
// them are healthy (registered and not ejected).
type ZoneAffinityConfig struct {
	// MinHealthy is how many healthy nodes the local zone needs to keep
	// the traffic local (default 1); with fewer, calls spill over to every
	// zone.
	MinHealthy int `yaml:"min_healthy"`
}

// OutlierConfig configures outlier ejection; the zero value is the
// selector's defaults. Only failures that say something about the node
// count (refused, reset, timed out, unavailable), not application errors.
type OutlierConfig struct {
	// ConsecutiveFailures ejects a node after this many failures in a row
	// (default: the selector's, 5).
	ConsecutiveFailures int `yaml:"consecutive_failures"`
	// MinSuccessRate ejects a node whose success rate over Interval falls
	// below it (0: off).
	MinSuccessRate float64 `yaml:"min_success_rate"`
	// Interval is the window of the success-rate check.
	Interval Duration `yaml:"interval"`
	// BaseEjection is the first ejection's length; later ones grow.
	BaseEjection Duration `yaml:"base_ejection"`
	// MaxEjectedShare caps the share of nodes ejected at once, in (0, 1]
	// (default: the selector's).
	MaxEjectedShare float64 `yaml:"max_ejected_share"`
}

// RetryConfig configures retries.
type RetryConfig struct {
	// MaxAttempts is the most attempts per call, the first included
	// (default 3; 1 disables retries).
	MaxAttempts int `yaml:"max_attempts"`
	// Backoff is the wait before a retry: full jitter below a ceiling
	// that starts at Base and doubles up to Cap.
	Backoff BackoffConfig `yaml:"backoff"`
	// Budget caps retries as a share of calls.
	Budget *BudgetConfig `yaml:"budget"`
}

// BackoffConfig is exponential backoff with full jitter.
type BackoffConfig struct {
	// Base is the first ceiling (default 10ms).
	Base Duration `yaml:"base"`
	// Cap is the largest ceiling (default 1s).
	Cap Duration `yaml:"cap"`
}

// BudgetConfig is a retry or hedge budget.
type BudgetConfig struct {
	// Ratio is the share of calls, in [0, 1], that may be retried.
	Ratio float64 `yaml:"ratio"`
	// MinPerSecond is a floor of retries per second always allowed.
	MinPerSecond float64 `yaml:"min_per_second"`
}

// HedgingConfig configures backup requests for idempotent calls.
type HedgingConfig struct {
	// Delay before the backup request (or use Percentile).
	Delay Duration `yaml:"delay"`
	// Percentile of recent latency, in (0, 100], after which to hedge.
	Percentile float64 `yaml:"percentile"`
	// MaxHedges is the most backup requests per call (default 1). Hedges
	// draw on the client's retry budget when it has one.
	MaxHedges int `yaml:"max_hedges"`
}

// Workload generates calls from a client to a service.
type Workload struct {
	// Name identifies the workload in reports (default "w<index>").
	Name string `yaml:"name"`
	// Client is the calling client (default: the first client).
	Client string `yaml:"client"`
	// Service is the called service (required).
	Service string `yaml:"service"`
	// Endpoint is the called endpoint; or give Mix.
	Endpoint string `yaml:"endpoint"`
	// Mix spreads calls over endpoints by weight.
	Mix []MixEntry `yaml:"mix"`
	// Rate is an open-loop arrival rate in calls per second.
	Rate float64 `yaml:"rate"`
	// Ramp is a piecewise-linear open-loop rate: the rate at given times,
	// linear in between, constant after the last point.
	Ramp []RatePoint `yaml:"ramp"`
	// Arrivals is "poisson" (default) or "uniform" spacing for open loop.
	Arrivals string `yaml:"arrivals"`
	// Concurrency is the number of closed-loop workers (instead of a rate).
	Concurrency int `yaml:"concurrency"`
	// Think is a closed-loop worker's pause between calls.
	Think Duration `yaml:"think"`
	// Start is when the workload starts (default 0).
	Start Duration `yaml:"start"`
	// Duration is how long it runs (default: until the scenario's end).
	Duration Duration `yaml:"duration"`
	// Idempotent marks the calls as safe to run more than once (needed
	// for hedging and for retrying timeouts).
	Idempotent bool `yaml:"idempotent"`
	// Keys is the number of distinct request keys (drawn uniformly) that
	// the consistent_hash strategy routes on (0: calls carry no key).
	Keys int `yaml:"keys"`
	// Request is the JSON request sent to a service implemented in Go
	// (default "{}"); synthetic services need none.
	Request string `yaml:"request"`
	// Publish makes the workload publish events instead of calling a
	// service: each arrival publishes one message.
	Publish *PublishSpec `yaml:"publish"`
	// Stream makes each arrival open a stream to the endpoint (a stream
	// endpoint) and exchange messages on it.
	Stream *StreamSpec `yaml:"stream"`
}

// MixEntry is one endpoint of a workload's mix.
type MixEntry struct {
	// Endpoint is "Handler.Method" (required).
	Endpoint string `yaml:"endpoint"`
	// Weight is the relative share of calls (default 1).
	Weight float64 `yaml:"weight"`
}

// RatePoint is one point of a ramp.
type RatePoint struct {
	// At is the time since the workload's start.
	At Duration `yaml:"at"`
	// Rate is the rate at that time, in calls per second.
	Rate float64 `yaml:"rate"`
}
