package sim

import (
	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// topicStats are the events of one topic: what was published, and what
// each subscribing service's queue group received.
type topicStats struct {
	topic                  string
	published, pubFailures uint64
	subs                   map[string]*deliveryStats // by subscribing service
	order                  []string                  // services in order of first delivery
}

// deliveryStats are one service's deliveries of a topic's events.
type deliveryStats struct {
	seen                 map[uint64]uint32 // deliveries per event
	deliveries, failures uint64
	lag                  *hdr.Histogram // publish to handler start
}

// topicStream returns the id of topic's stream, registering it on first
// use. It does not block.
func (m *metrics) topicStream(topic string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, t := range m.topics {
		if t.topic == topic {
			return i
		}
	}
	m.topics = append(m.topics, &topicStats{topic: topic, subs: map[string]*deliveryStats{}})
	return len(m.topics) - 1
}

// published records one publication on stream id.
func (m *metrics) published(id int, _ uint64, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.topics[id]
	if err != nil {
		t.pubFailures++
		return
	}
	t.published++
}

// delivered records the delivery of event seq of stream id to service,
// lag after it was published, and the handler's outcome.
func (m *metrics) delivered(id int, service string, seq uint64, lag int64, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.topics[id]
	d := t.subs[service]
	if d == nil {
		d = &deliveryStats{seen: map[uint64]uint32{}, lag: hdr.New(1, m.highest, histDigits)}
		t.subs[service] = d
		t.order = append(t.order, service)
	}
	d.deliveries++
	d.seen[seq]++
	if err != nil {
		d.failures++
	}
	us := min(max(lag/1000, 0), m.highest)
	_ = d.lag.RecordValue(us)
}
