package sim

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/codec"
	fwerrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/memory"
	"github.com/microsim/microsim/sim/scenario"
)

// Pub/sub: workloads (and steps of call graphs) publish events through
// the framework client's broker; services consume them with the
// framework server's subscribers, one queue group per service and topic.
// Each event carries its sequence number and the instant it was
// published, so the engine counts what was delivered, what twice, what
// never, and how late.

// eventHeader is the part of every event the engine reads: sequence
// number and publish time (virtual Unix nanoseconds).
const eventHeader = scenario.MinEventSize

// eventBody is the payload of event seq published now, size bytes long.
func eventBody(seq uint64, size int) []byte {
	b := make([]byte, max(size, eventHeader))
	binary.LittleEndian.PutUint64(b, seq)
	binary.LittleEndian.PutUint64(b[8:], uint64(time.Now().UnixNano()))
	return b
}

// subscriberName is a subscriber's behaviour name (effects with an
// endpoint match it).
func subscriberName(topic string) string { return "topic " + topic }

// subscribe registers the instance's synthetic subscribers on srv.
func (in *instance) subscribe(srv server.Server) error {
	for k := range in.subs {
		b := &in.subs[k]
		topic := b.topic
		fn := func(ctx context.Context, msg *[]byte) error {
			start := time.Now()
			var seq uint64
			var sent time.Time
			if len(*msg) >= eventHeader {
				seq = binary.LittleEndian.Uint64(*msg)
				sent = time.Unix(0, int64(binary.LittleEndian.Uint64((*msg)[8:])))
			}
			err := in.serve(ctx, &b.endpointBehaviour, seq, 0)
			if m := in.w.metrics; m != nil {
				m.attempt(in.id, start, time.Since(start), err != nil)
				m.delivered(b.stream, in.service, seq, int64(start.Sub(sent)), err)
			}
			return err
		}
		if err := srv.Subscribe(topic, fn); err != nil {
			return err
		}
	}
	return nil
}

// subscriberBehaviour is a synthetic subscriber on one instance.
type subscriberBehaviour struct {
	endpointBehaviour
	topic  string
	stream int // metrics delivery stream, bound before the first event
}

// newSubscribers builds an instance's synthetic subscribers.
func newSubscribers(s *scenario.Service, factor float64) []subscriberBehaviour {
	var out []subscriberBehaviour
	for _, sub := range s.Subscribers {
		out = append(out, subscriberBehaviour{topic: sub.Topic, endpointBehaviour: endpointBehaviour{
			name: subscriberName(sub.Topic), latency: newSampler(sub.Latency), factor: factor,
			errRate: sub.ErrorRate, errCode: fwerrors.Internal,
		}})
	}
	return out
}

// publish publishes event seq on topic through c and records it.
func (w *world) publish(ctx context.Context, c client.Client, topic string, stream int, seq uint64, size int) error {
	err := c.Publish(ctx, topic, eventBody(seq, size), client.WithPublishContentType(codec.ContentTypeBytes))
	w.metrics.published(stream, seq, err)
	return err
}

// bindStreams gives every subscriber and publishing step its metrics
// streams (once the metrics exist).
func (w *world) bindStreams() {
	for _, in := range w.instances {
		for k := range in.subs {
			in.subs[k].stream = w.metrics.topicStream(in.subs[k].topic)
		}
		for _, b := range in.eps {
			for _, st := range b.steps {
				for _, c := range st.calls {
					if c.topic != "" {
						c.edge = w.metrics.topicStream(c.topic)
					}
				}
			}
		}
	}
}

// publishStep publishes a step's event.
func (in *instance) publishStep(ctx context.Context, c *edgeCall, seq uint64) error {
	return in.w.publish(ctx, in.caller.cli, c.topic, c.edge, mix64(seq^c.key), eventHeader)
}

// eventDrain is how long a run goes on after its end for the events
// still queued to be delivered; an event not delivered by then is lost.
const eventDrain = time.Second

// hasSubscribers reports whether any service consumes events.
func (w *world) hasSubscribers() bool {
	for _, s := range w.sc.Topology.Services {
		if len(s.Subscribers) > 0 {
			return true
		}
	}
	return false
}

// publishes reports whether steps publish events.
func publishes(steps []stepPlan) bool {
	for _, st := range steps {
		for _, c := range st.calls {
			if c.topic != "" {
				return true
			}
		}
	}
	return false
}

// publisher is the broker host name publishes through: the host's, under
// the injector's broker faults when the scenario has any. The world
// closes it.
func (w *world) publisher(name string, h *memory.Host) broker.Broker {
	b := h.Broker()
	if w.inj == nil {
		return b
	}
	fb := w.inj.WrapBroker(name, b)
	w.mu.Lock()
	w.brokers = append(w.brokers, fb)
	w.mu.Unlock()
	return fb
}

// closeBrokers closes the publishing brokers the world wrapped.
func (w *world) closeBrokers() {
	w.mu.Lock()
	bs := w.brokers
	w.brokers = nil
	w.mu.Unlock()
	for _, b := range bs {
		_ = b.Close()
	}
}

// clientPublishes reports whether a workload of the named client
// publishes events.
func (w *world) clientPublishes(name string) bool {
	for i, wl := range w.sc.Workloads {
		cname := wl.Client
		if cname == "" {
			cname = defaultClientName(w.sc)
		}
		if cname == name && w.sc.Workloads[i].Publish != nil {
			return true
		}
	}
	return false
}

// defaultClientName is the client of a workload that names none.
func defaultClientName(sc *scenario.Scenario) string {
	if len(sc.Clients) > 0 {
		return sc.Clients[0].Name
	}
	return scenario.DefaultClient
}
