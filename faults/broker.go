package faults

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/broker"
)

// BrokerFault acts on the messages the Nodes it targets publish on a
// topic, through the broker that WrapBroker returns for each node. Its
// effects combine: a message is dropped, or published late, possibly
// twice.
type BrokerFault struct {
	// Nodes are the publishing nodes (zero: every node).
	Nodes Target
	// Topic is the topic acted on ("" every topic).
	Topic string
	// Drop drops a message with this probability (Publish succeeds).
	Drop float64
	// Delay publishes each message a draw later (Publish returns at once).
	Delay Dist
	// Duplicate publishes a message twice with this probability.
	Duplicate float64
	// Reorder holds a message back with this probability by a uniform draw
	// in (0, ReorderWindow], so that later messages overtake it.
	Reorder       float64
	ReorderWindow time.Duration
	// Unavailable makes Publish fail with an error wrapping
	// broker.ErrUnavailable, as when the broker cannot be reached (an
	// outage); it takes precedence over the other effects.
	Unavailable bool
}

func (BrokerFault) kind() string { return "broker" }

func (b BrokerFault) validate(c *check, nodes map[string]NodeInfo) {
	b.Nodes.validate(c, "nodes", nodes)
	c.prob("drop", b.Drop)
	b.Delay.validate(c, "delay")
	c.prob("duplicate", b.Duplicate)
	c.prob("reorder", b.Reorder)
	c.nonNeg("reorderWindow", b.ReorderWindow)
	if b.Reorder > 0 && b.ReorderWindow <= 0 {
		c.failf("reorderWindow", "must be > 0 when reorder is set, got %v", b.ReorderWindow)
	}
	if b.Drop == 0 && b.Delay.IsZero() && b.Duplicate == 0 && b.Reorder == 0 && !b.Unavailable {
		c.failf("", "no effect: set drop, delay, duplicate, reorder or unavailable")
	}
}

func (b BrokerFault) build(f *Fault) behaviour { return &brokerFault{f: f, spec: b} }

// brokerFault is a BrokerFault's behaviour.
type brokerFault struct {
	f    *Fault
	spec BrokerFault
	run  *brokerRun // guarded by f.mu
}

type brokerRun struct {
	bf    *brokerFault
	nodes nodeSet
}

func (b *brokerFault) start(_ context.Context, nodes map[string]NodeInfo) ([]string, error) {
	b.f.mu.Lock()
	defer b.f.mu.Unlock()
	b.run = &brokerRun{bf: b, nodes: b.spec.Nodes.resolve(nodes, b.f.rng)}
	return b.run.nodes.names(), nil
}

func (b *brokerFault) stop(context.Context) error { b.release(); return nil }

func (b *brokerFault) release() {
	b.f.mu.Lock()
	b.run = nil
	b.f.mu.Unlock()
}

func (b *brokerFault) register(a *activeSet) {
	b.f.mu.Lock()
	defer b.f.mu.Unlock()
	if b.run != nil {
		a.brokers = append(a.brokers, b.run)
	}
}

// pubVerdict is what the broker faults do to one message.
type pubVerdict struct {
	down   bool // unavailable
	drop   bool
	copies int
	delay  time.Duration
}

// judgeBroker asks every broker fault in effect about a message of node on
// topic; every matching fault draws all its decisions.
func (inj *Injector) judgeBroker(node, topic string) pubVerdict {
	v := pubVerdict{copies: 1}
	for _, run := range inj.active.Load().brokers {
		s, f := &run.bf.spec, run.bf.f
		if !run.nodes.has(node) || (s.Topic != "" && s.Topic != topic) {
			continue
		}
		if s.Unavailable {
			f.mu.Lock()
			f.seenLocked()
			f.mu.Unlock()
			f.act(Touch{Node: node, Topic: topic, Action: "refused"})
			v.down = true
			continue
		}
		var drop, dup bool
		var delay, hold time.Duration
		f.mu.Lock()
		f.seenLocked()
		r := f.streamLocked("broker:" + node + ">" + topic)
		if s.Drop > 0 {
			drop = r.Float64() < s.Drop
		}
		if s.Duplicate > 0 {
			dup = r.Float64() < s.Duplicate
		}
		if !s.Delay.IsZero() {
			delay = s.Delay.Sample(r)
		}
		if s.Reorder > 0 && r.Float64() < s.Reorder {
			hold = 1 + time.Duration(r.Int64N(int64(s.ReorderWindow)))
		}
		f.mu.Unlock()
		t := Touch{Node: node, Topic: topic}
		switch {
		case drop:
			v.drop = true
			t.Action = "dropped"
			f.act(t)
			continue
		case dup:
			v.copies++
			t.Action = "duplicated"
			f.act(t)
		}
		if hold > 0 {
			t.Action, t.Delay = "reordered", hold
			f.act(t)
		} else if delay > 0 {
			t.Action, t.Delay = "delayed", delay
			f.act(t)
		}
		v.delay += delay + hold
	}
	return v
}

// WrapBroker returns b with the broker faults applied to what node
// publishes. It does not block; Publish blocks only as b's does. Delayed
// messages are published by a goroutine of the returned broker that runs
// while any is pending; Close drops them.
func (inj *Injector) WrapBroker(node string, b broker.Broker) broker.Broker {
	return &faultBroker{inj: inj, node: node, Broker: b, wake: make(chan struct{}, 1), stop: make(chan struct{})}
}

type faultBroker struct {
	broker.Broker
	inj  *Injector
	node string

	wake chan struct{}
	stop chan struct{} // closed by Close
	wg   sync.WaitGroup

	mu      sync.Mutex
	pending []pendingPub // sorted by (at, seq)
	seq     uint64
	running bool
	closed  bool
}

type pendingPub struct {
	topic string
	m     *broker.Message
	at    time.Time
	seq   uint64
}

// Publish publishes m now, later, twice or not at all as the faults decide.
func (b *faultBroker) Publish(ctx context.Context, topic string, m *broker.Message) error {
	if err := ctx.Err(); err != nil || m == nil || topic == "" {
		return b.Broker.Publish(ctx, topic, m) // let the broker report it
	}
	v := b.inj.judgeBroker(b.node, topic)
	switch {
	case v.down:
		return fmt.Errorf("%w: publish on %q from %s refused (injected broker outage)", broker.ErrUnavailable, topic, b.node)
	case v.drop:
		return nil
	case v.delay == 0:
		for range v.copies {
			if err := b.Broker.Publish(ctx, topic, m); err != nil {
				return err
			}
		}
		return nil
	}
	c := &broker.Message{Header: maps.Clone(m.Header), Body: slices.Clone(m.Body)}
	at := time.Now().Add(v.delay)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return broker.ErrClosed
	}
	for range v.copies {
		b.seq++
		p := pendingPub{topic: topic, m: c, at: at, seq: b.seq}
		i, _ := slices.BinarySearchFunc(b.pending, p, func(x, y pendingPub) int {
			if c := x.at.Compare(y.at); c != 0 {
				return c
			}
			return compareSeq(x.seq, y.seq)
		})
		b.pending = slices.Insert(b.pending, i, p)
	}
	start := !b.running
	if start {
		b.running = true
		b.wg.Add(1)
	}
	b.mu.Unlock()
	if start && !b.inj.goTracked(func() { defer b.wg.Done(); b.pump() }) {
		b.wg.Done()
		b.mu.Lock()
		b.running, b.pending = false, nil
		b.mu.Unlock()
		return ErrClosed
	}
	signal(b.wake)
	return nil
}

// pump publishes pending messages when due; it returns once none is left,
// at Close, or when the injector closes.
func (b *faultBroker) pump() {
	ctx := b.inj.ctx
	for {
		b.mu.Lock()
		if b.closed || len(b.pending) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		p := b.pending[0]
		if wait := time.Until(p.at); wait > 0 {
			b.mu.Unlock()
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-b.wake: // an earlier message may have arrived
			case <-b.stop:
			case <-ctx.Done():
				t.Stop()
				b.mu.Lock()
				b.running, b.pending = false, nil
				b.mu.Unlock()
				return
			}
			t.Stop()
			continue
		}
		b.pending = slices.Delete(b.pending, 0, 1)
		b.mu.Unlock()
		_ = b.Broker.Publish(ctx, p.topic, p.m)
	}
}

// Close drops the pending messages, waits for the pump and closes the broker.
func (b *faultBroker) Close() error {
	b.mu.Lock()
	first := !b.closed
	b.closed = true
	b.pending = nil
	b.mu.Unlock()
	if first {
		close(b.stop)
	}
	b.wg.Wait()
	return b.Broker.Close()
}
