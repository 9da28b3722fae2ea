package scenario

// Assertion is one check on the run's metrics. Exactly one kind field
// (SuccessRate, Latency, ...) must be set.
type Assertion struct {
	// Name labels the assertion in reports (default: a description of it).
	Name string `yaml:"name"`

	// SuccessRate checks the share of calls that succeeded.
	SuccessRate *SuccessRateCheck `yaml:"success_rate"`
	// Latency checks a latency percentile of calls.
	Latency *LatencyCheck `yaml:"latency"`
	// TrafficShare checks the share of attempts an instance or zone got.
	TrafficShare *TrafficShareCheck `yaml:"traffic_share"`
	// Retries checks the number of retries.
	Retries *CountCheck `yaml:"retries"`
	// Hedges checks the number of hedged (backup) requests.
	Hedges *CountCheck `yaml:"hedges"`
	// Recovery checks how soon the success rate recovers after a fault.
	Recovery *RecoveryCheck `yaml:"recovery"`
	// Edge checks the calls services make to a service (call graphs).
	Edge *EdgeCheck `yaml:"edge"`
	// Amplification checks the attempts that reach a service per
	// top-level call.
	Amplification *AmplificationCheck `yaml:"amplification"`
	// Delivery checks the events a subscribing service received.
	Delivery *DeliveryCheck `yaml:"delivery"`
	// Stream checks a stream workload's streams.
	Stream *StreamCheck `yaml:"stream"`
}

// Scope narrows the calls an assertion looks at.
type Scope struct {
	// Workload limits the check to one workload's calls.
	Workload string `yaml:"workload"`
	// Endpoint limits the check to one endpoint's calls.
	Endpoint string `yaml:"endpoint"`
	// Fault makes From and To relative to the start of the fault's first
	// occurrence (To then defaults to the fault's end).
	Fault string `yaml:"fault"`
	// From is the start of the time range (calls started at or after it).
	From Duration `yaml:"from"`
	// To is the end of the time range (default: the end of the run).
	To Duration `yaml:"to"`
}

// SuccessRateCheck: the share of calls that succeeded is at least Min
// (and at most Max, when set) overall, or in every window of Window when
// Window is set.
type SuccessRateCheck struct {
	Scope  `yaml:",inline"`
	Window Duration `yaml:"window"`
	// Min is the lowest success rate allowed, in [0, 1].
	Min float64 `yaml:"min"`
	// Max is the highest success rate allowed, in [0, 1]: a scenario that
	// shows a failure mode asserts that it happens.
	Max *float64 `yaml:"max"`
}

// LatencyCheck: the Percentile of call latency is at most Max overall, or
// in every window of Window when Window is set.
type LatencyCheck struct {
	Scope  `yaml:",inline"`
	Window Duration `yaml:"window"`
	// Percentile in (0, 100] (required).
	Percentile float64 `yaml:"percentile"`
	// Max is the highest latency allowed.
	Max Duration `yaml:"max"`
	// Min is the lowest latency allowed: a scenario that shows a failure
	// mode asserts that it happens (with a window, every window must
	// reach it). Set Max, Min or both.
	Min Duration `yaml:"min"`
}

// TrafficShareCheck: the share of a service's attempts that went to an
// instance (or zone) lies in [Min, Max].
type TrafficShareCheck struct {
	Scope `yaml:",inline"`
	// Service whose attempts are counted (default: the only service, or
	// the instance's service).
	Service string `yaml:"service"`
	// Instance is a node name such as "api-1".
	Instance string `yaml:"instance"`
	// Zone counts every instance of the zone instead.
	Zone string `yaml:"zone"`
	// Min and Max bound the share, in [0, 1]; at least one is required.
	Min *float64 `yaml:"min"`
	Max *float64 `yaml:"max"`
}

// CountCheck bounds retries or hedges, in total or per call.
type CountCheck struct {
	Scope `yaml:",inline"`
	// MaxPerCall bounds the count divided by the number of calls.
	MaxPerCall *float64 `yaml:"max_per_call"`
	// MaxTotal and MinTotal bound the count.
	MaxTotal *int64 `yaml:"max_total"`
	MinTotal *int64 `yaml:"min_total"`
}

// RecoveryCheck: after the fault's last occurrence ends, the success rate
// of every window is back at MinSuccessRate within Within.
type RecoveryCheck struct {
	// Fault is the name of the fault (required).
	Fault string `yaml:"fault"`
	// Within is the longest recovery allowed (required).
	Within Duration `yaml:"within"`
	// Window is the width of the windows checked (default: the scenario's).
	Window Duration `yaml:"window"`
	// MinSuccessRate is the success rate that counts as recovered
	// (default 0.99).
	MinSuccessRate float64 `yaml:"min_success_rate"`
	// Workload and Endpoint narrow the calls.
	Workload string `yaml:"workload"`
	Endpoint string `yaml:"endpoint"`
}

// Kind is the name of the assertion's kind ("" when none or several are set).
func (a *Assertion) Kind() string {
	if k := a.kinds(); len(k) == 1 {
		return k[0]
	}
	return ""
}

func (a *Assertion) kinds() []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(a.SuccessRate != nil, "success_rate")
	add(a.Latency != nil, "latency")
	add(a.TrafficShare != nil, "traffic_share")
	add(a.Retries != nil, "retries")
	add(a.Hedges != nil, "hedges")
	add(a.Recovery != nil, "recovery")
	add(a.Edge != nil, "edge")
	add(a.Amplification != nil, "amplification")
	add(a.Delivery != nil, "delivery")
	add(a.Stream != nil, "stream")
	return out
}

// unknownFieldMessage implements unknownFielder.
func (*Assertion) unknownFieldMessage(key string, known []string) string {
	return unknownKindMessage("assertion kind or field", key, known)
}

// F returns a pointer to v, for the optional fields of scenarios built in Go.
func F(v float64) *float64 { return &v }

// I returns a pointer to v, for the optional fields of scenarios built in Go.
func I[T int | int64](v T) *T { return &v }

// assertionKindNames lists the assertion kinds, for messages.
var assertionKindNames = []string{"success_rate", "latency", "traffic_share", "retries", "hedges", "recovery", "edge", "amplification", "delivery", "stream"}

// EdgeCheck checks the calls that services made to Service (from Caller
// only, when set; to one endpoint, when Scope.Endpoint is set): their
// success rate, attempts per call and latency, as the callers saw them.
// Set at least one of MinSuccessRate, MaxAttemptsPerCall and
// Percentile with MaxLatency.
type EdgeCheck struct {
	Scope `yaml:",inline"`
	// Caller is the calling service (default: every caller).
	Caller string `yaml:"caller"`
	// Service is the called service (required).
	Service string `yaml:"service"`
	// MinSuccessRate is the lowest share of calls that may succeed.
	MinSuccessRate *float64 `yaml:"min_success_rate"`
	// MaxAttemptsPerCall bounds attempts (retries and hedges included)
	// per call on the edge.
	MaxAttemptsPerCall *float64 `yaml:"max_attempts_per_call"`
	// Percentile of the edge's call latency that must be at most
	// MaxLatency.
	Percentile float64  `yaml:"percentile"`
	MaxLatency Duration `yaml:"max_latency"`
}

// AmplificationCheck bounds the attempts that reached Service's
// instances (from any caller) per top-level call (a workload's call, of
// Scope.Workload when set): 1 when every call reaches it once, more when
// retries multiply down the tiers.
type AmplificationCheck struct {
	Scope `yaml:",inline"`
	// Service is the tier (required).
	Service string `yaml:"service"`
	// Max and Min bound attempts per top-level call; at least one.
	Max *float64 `yaml:"max"`
	Min *float64 `yaml:"min"`
}

// DeliveryCheck checks the events of Topic that Service (a subscriber of
// it) received: the share of published events it got, duplicates, events
// lost (published, never delivered), and lag (publish to handler start).
// Set at least one bound.
type DeliveryCheck struct {
	// Topic and Service (the subscribing service) are required.
	Topic   string `yaml:"topic"`
	Service string `yaml:"service"`
	// MinRatio is the lowest share of published events delivered at
	// least once, in [0, 1].
	MinRatio *float64 `yaml:"min_ratio"`
	// MaxDuplicates bounds deliveries beyond the first of an event.
	MaxDuplicates *int64 `yaml:"max_duplicates"`
	// MaxLost and MinLost bound the events never delivered.
	MaxLost *int64 `yaml:"max_lost"`
	MinLost *int64 `yaml:"min_lost"`
	// Percentile of the lag that must be at most MaxLag.
	Percentile float64  `yaml:"percentile"`
	MaxLag     Duration `yaml:"max_lag"`
}
