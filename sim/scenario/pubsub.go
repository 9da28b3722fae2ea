package scenario

// MinEventSize is the smallest event payload, in bytes, and the default
// size: the engine writes each event's sequence number and publish time
// (virtual Unix nanoseconds) in its first 16 bytes.
const MinEventSize = 16

// Subscriber is a topic a service consumes. Every instance joins the
// service's queue group for the topic, so each event goes to one of them.
type Subscriber struct {
	// Topic is the topic consumed (required).
	Topic string `yaml:"topic"`
	// Latency is how long handling an event takes.
	Latency Latency `yaml:"latency"`
	// ErrorRate is the probability, in [0, 1], that handling fails (the
	// memory broker does not redeliver: the event is counted as failed).
	ErrorRate float64 `yaml:"error_rate"`
}

// PublishSpec is what a publishing workload publishes.
type PublishSpec struct {
	// Topic is the topic published on (required).
	Topic string `yaml:"topic"`
	// Size is the payload size in bytes (default 16, the smallest: the
	// event's sequence number and publish time).
	Size int `yaml:"size"`
}
