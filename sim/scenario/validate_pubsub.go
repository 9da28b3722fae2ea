package scenario

import (
	"strings"
)

// subscribers checks a service's subscribers.
func (v *validator) subscribers(path string, s *Service) {
	seen := map[string]bool{}
	for i := range s.Subscribers {
		sub := &s.Subscribers[i]
		sp := index(join(path, "subscribers"), i)
		switch {
		case strings.TrimSpace(sub.Topic) == "":
			v.p.add(join(sp, "topic"), "a subscriber needs a topic")
		case seen[sub.Topic]:
			v.p.add(join(sp, "topic"), "service %q subscribes to %q twice", s.Name, sub.Topic)
		}
		seen[sub.Topic] = true
		v.topics[sub.Topic] = true
		if s.IsGo() {
			v.p.add(sp, "service %q is implemented in Go: its own code subscribes (in its Register method or sim.WithServer)", s.Name)
		}
		v.latency(join(sp, "latency"), sub.Latency)
		v.probability(join(sp, "error_rate"), sub.ErrorRate)
	}
}

// publishWorkload checks a workload that publishes events.
func (v *validator) publishWorkload(path string, w *Workload) {
	for _, f := range []struct {
		set  bool
		name string
	}{{w.Service != "", "service"}, {w.Endpoint != "", "endpoint"}, {len(w.Mix) > 0, "mix"}, {w.Request != "", "request"},
		{w.Keys != 0, "keys"}, {w.Idempotent, "idempotent"}} {
		if f.set {
			v.p.add(join(path, f.name), "a workload that publishes calls no service: remove %s", f.name)
		}
	}
	p := w.Publish
	pp := join(path, "publish")
	v.topic(join(pp, "topic"), p.Topic)
	if p.Size < 0 || p.Size > maxEventSize {
		v.p.add(join(pp, "size"), "must be in [%d, %d] bytes, got %d", MinEventSize, maxEventSize, p.Size)
	}
}

// maxEventSize bounds a published event's payload.
const maxEventSize = 1 << 20

// topic checks a topic that is published on: some service must consume
// it, or its events go nowhere and every delivery assertion on it would
// prove nothing.
func (v *validator) topic(path, topic string) {
	switch {
	case strings.TrimSpace(topic) == "":
		v.p.add(path, "a publication needs a topic")
	case !v.topics[topic]:
		v.p.add(path, "no service subscribes to topic %q (subscribed: %s)", topic, orNone(sortedKeys(v.topics)))
	}
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

// deliveryCheck validates a delivery assertion.
func (v *validator) deliveryCheck(path string, c *DeliveryCheck) {
	v.topic(join(path, "topic"), c.Topic)
	switch s := v.services[c.Service]; {
	case c.Service == "":
		v.p.add(join(path, "service"), "a delivery assertion needs the subscribing service")
	case s == nil:
		v.p.add(join(path, "service"), "service %q does not exist; services: %s", c.Service, strings.Join(sortedKeys(v.services), ", "))
	case c.Topic != "" && !s.Subscribes(c.Topic):
		v.p.add(join(path, "service"), "service %q does not subscribe to %q", c.Service, c.Topic)
	}
	if c.MinRatio != nil {
		v.probability(join(path, "min_ratio"), *c.MinRatio)
	}
	for _, b := range []struct {
		name string
		x    *int64
	}{{"max_duplicates", c.MaxDuplicates}, {"max_lost", c.MaxLost}, {"min_lost", c.MinLost}} {
		if b.x != nil && *b.x < 0 {
			v.p.add(join(path, b.name), "must not be negative, got %d", *b.x)
		}
	}
	if (c.Percentile != 0) != (c.MaxLag != 0) {
		v.p.add(path, "percentile and max_lag go together")
	}
	if c.Percentile != 0 {
		v.percentile(join(path, "percentile"), c.Percentile)
	}
	if c.MinRatio == nil && c.MaxDuplicates == nil && c.MaxLost == nil && c.MinLost == nil && c.Percentile == 0 {
		v.p.add(path, "a delivery assertion needs min_ratio, max_duplicates, max_lost, min_lost, or percentile with max_lag")
	}
}

// Subscribes reports whether the service consumes topic.
func (s *Service) Subscribes(topic string) bool {
	for _, sub := range s.Subscribers {
		if sub.Topic == topic {
			return true
		}
	}
	return false
}
