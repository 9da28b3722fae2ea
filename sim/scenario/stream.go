package scenario

// StreamSpec is what a stream workload does on each stream.
type StreamSpec struct {
	// Messages is how many messages a stream exchanges (required, at
	// least 1).
	Messages int `yaml:"messages"`
	// Interval is the pause between a message's answer and the next
	// message (default 0).
	Interval Duration `yaml:"interval"`
}

// isStream reports whether svc's endpoint ep is a stream endpoint.
func isStream(svc *Service, ep string) bool {
	if svc == nil {
		return false
	}
	for _, e := range svc.Endpoints {
		if e.Name == ep {
			return e.Stream
		}
	}
	return false
}

// maxStreamMessages bounds the messages of one stream.
const maxStreamMessages = 100_000

// streamWorkload checks what a workload says about streams: a stream
// workload calls one stream endpoint; any other workload none.
func (v *validator) streamWorkload(path string, w *Workload) {
	svc := v.services[w.Service]
	eps := []string{w.Endpoint}
	for _, m := range w.Mix {
		eps = append(eps, m.Endpoint)
	}
	if w.Stream == nil {
		for _, ep := range eps {
			if isStream(svc, ep) {
				v.p.add(join(path, "endpoint"), "endpoint %q is a stream: give the workload a stream block (messages, interval)", ep)
			}
		}
		return
	}
	sp := join(path, "stream")
	if w.Publish != nil {
		v.p.add(sp, "a workload publishes or opens streams, not both")
	}
	if len(w.Mix) > 0 || w.Request != "" || w.Keys != 0 {
		v.p.add(sp, "a stream workload calls one endpoint: mix, request and keys do not apply")
	}
	if w.Endpoint != "" && svc != nil && !isStream(svc, w.Endpoint) {
		v.p.add(join(path, "endpoint"), "endpoint %q is not a stream (stream: true)", w.Endpoint)
	}
	if m := w.Stream.Messages; m < 1 || m > maxStreamMessages {
		v.p.add(join(sp, "messages"), "must be in [1, %d], got %d", maxStreamMessages, m)
	}
	v.nonNegative(join(sp, "interval"), w.Stream.Interval)
}

// StreamCheck checks a stream workload's streams: the share that
// completed, how many were interrupted (broke after opening), and the
// latency of their messages. Set at least one bound.
type StreamCheck struct {
	// Workload is the stream workload (required).
	Workload string `yaml:"workload"`
	// MinCompleted is the lowest share of streams that completed.
	MinCompleted *float64 `yaml:"min_completed"`
	// MaxInterrupted bounds streams that broke after they opened.
	MaxInterrupted *int64 `yaml:"max_interrupted"`
	// Percentile of message latency (send to answer) at most
	// MaxMessageLatency.
	Percentile        float64  `yaml:"percentile"`
	MaxMessageLatency Duration `yaml:"max_message_latency"`
}

// streamCheck validates a stream assertion.
func (v *validator) streamCheck(path string, c *StreamCheck) {
	switch {
	case c.Workload == "":
		v.p.add(join(path, "workload"), "a stream assertion needs a stream workload")
	case !v.workloads[c.Workload]:
		v.p.add(join(path, "workload"), "workload %q does not exist; workloads: %s", c.Workload, orNone(sortedKeys(v.workloads)))
	}
	if c.MinCompleted != nil {
		v.probability(join(path, "min_completed"), *c.MinCompleted)
	}
	if c.MaxInterrupted != nil && *c.MaxInterrupted < 0 {
		v.p.add(join(path, "max_interrupted"), "must not be negative, got %d", *c.MaxInterrupted)
	}
	if (c.Percentile != 0) != (c.MaxMessageLatency != 0) {
		v.p.add(path, "percentile and max_message_latency go together")
	}
	if c.Percentile != 0 {
		v.percentile(join(path, "percentile"), c.Percentile)
	}
	if c.MinCompleted == nil && c.MaxInterrupted == nil && c.Percentile == 0 {
		v.p.add(path, "a stream assertion needs min_completed, max_interrupted, or percentile with max_message_latency")
	}
}
