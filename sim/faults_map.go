package sim

import (
	"fmt"
	"strings"

	"github.com/microsim/microsim/faults"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/memory"
	"github.com/microsim/microsim/sim/scenario"
)

// Link faults (partition, link_latency, loss) and registry outages run
// through a faults.Injector in every backend: the world owns one when the
// scenario has such a fault, knows every instance and client host as a
// node, wraps each client's dialling transport (which judges both
// directions of its connections) and every host's registry client, and
// starts and stops the injector's faults on the timeline. The mapping
// from the schema to the faults package's specs is here, once.

// usesInjector reports whether a fault kind runs through faults.Injector.
func usesInjector(kind string) bool {
	switch kind {
	case "partition", "link_latency", "loss", "registry_outage", "broker":
		return true
	}
	return false
}

// newInjector creates the world's injector when the scenario has a fault
// that runs through one. Its faults draw from a stream of their own,
// derived from the run's seed.
func (w *world) newInjector() {
	for i := range w.sc.Faults {
		if usesInjector(w.sc.Faults[i].Kind()) {
			w.inj = faults.New(mix64(w.seed ^ streamKey("faults")))
			return
		}
	}
}

// addInjectorNode tells the injector about an instance (with the
// address it listens on) or a client host.
func (w *world) addInjectorNode(name string, info faults.NodeInfo) error {
	if w.inj == nil {
		return nil
	}
	return w.inj.AddNode(name, info)
}

// addInjectorFaults adds the scenario's link and registry faults to the
// injector, stopped; call it once every node is known.
func (w *world) addInjectorFaults() error {
	if w.inj == nil {
		return nil
	}
	w.injFaults = map[int]*faults.Fault{}
	for i := range w.sc.Faults {
		f := &w.sc.Faults[i]
		spec := injectorSpec(f)
		if spec == nil {
			continue
		}
		ff, err := w.inj.Add(f.NameAt(i), spec)
		if err != nil {
			return fmt.Errorf("fault %s: %w", f.NameAt(i), err)
		}
		w.injFaults[i] = ff
	}
	return nil
}

// registry is the registry node sees: its host's view of the in-memory
// registry, under the injector's registry faults.
func (w *world) registry(node string, h *memory.Host) registry.Registry {
	if w.inj == nil {
		return h.Registry()
	}
	return w.inj.WrapRegistry(node, h.Registry())
}

// dialer is the transport a client host dials with: tr under the
// injector's link faults. Memory and TCP addresses are resolved by the
// injector (memory "host:port" to the host, TCP addresses through the
// instances' NodeInfo.Addrs).
func (w *world) dialer(node string, tr transport.Transport) transport.Transport {
	if w.inj == nil {
		return tr
	}
	return w.inj.WrapTransport(node, tr, nil)
}

// closeInjector stops the injector's faults and waits for the goroutines
// its decorators started.
func (w *world) closeInjector() error {
	if w.inj == nil {
		return nil
	}
	return w.inj.Close()
}

// injectorSpec maps a link or registry fault of the schema to the faults
// package's spec (nil for the other kinds).
func injectorSpec(f *scenario.Fault) faults.Spec {
	switch {
	case f.Partition != nil:
		p := f.Partition
		mode := faults.Refuse
		if p.Mode == "drop" {
			mode = faults.BlackHole
		}
		return faults.LinkFault{From: hostTarget(p.From), To: hostTarget(p.To), Bidirectional: !p.OneWay, Partition: true, Mode: mode}
	case f.LinkLatency != nil:
		l := f.LinkLatency
		return faults.LinkFault{From: hostTarget(l.From), To: hostTarget(l.To), Bidirectional: true, Latency: faultDist(l.Latency)}
	case f.Loss != nil:
		l := f.Loss
		return faults.LinkFault{From: hostTarget(l.From), To: hostTarget(l.To), Bidirectional: true, Loss: l.Rate}
	case f.RegistryOutage != nil:
		return faults.RegistryFault{Unavailable: true}
	case f.Broker != nil:
		b := f.Broker
		spec := faults.BrokerFault{Nodes: hostTarget(b.From), Topic: b.Topic, Unavailable: b.Unavailable, Drop: b.Drop, Duplicate: b.Duplicate}
		if b.Delay != (scenario.Latency{}) {
			spec.Delay = faultDist(b.Delay)
		}
		return spec
	}
	return nil
}

// hostTarget maps a HostSet to a faults.Target; the empty set is every
// host.
func hostTarget(h scenario.HostSet) faults.Target {
	t := faults.Target{Zone: h.Zone, Service: h.Service}
	if h.Client != "" {
		t.Nodes = []string{clientHost(h.Client)}
	}
	return t
}

// faultDist maps a latency distribution of the schema to the faults
// package's.
func faultDist(l scenario.Latency) faults.Dist {
	var d faults.Dist
	switch l.Dist {
	case "", scenario.DistConstant:
		return faults.Constant(l.Value.Std())
	case scenario.DistUniform:
		return faults.Uniform(l.Min.Std(), l.Max.Std())
	case scenario.DistNormal:
		d = faults.Normal(l.Mean.Std(), l.Stddev.Std())
	case scenario.DistLognormal:
		d = faults.LogNormal(l.Median.Std(), l.P99.Std())
	case scenario.DistExponential:
		d = faults.Exponential(l.Mean.Std())
	case scenario.DistPareto:
		d = faults.Pareto(l.Scale.Std(), l.Alpha)
	}
	if l.Min > 0 || l.Max > 0 {
		d = d.Clamp(l.Min.Std(), l.Max.Std())
	}
	return d
}

// linkTarget describes a link or registry fault's target for the report.
func linkTarget(f *scenario.Fault) string {
	set := func(h scenario.HostSet) string {
		var parts []string
		if h.Zone != "" {
			parts = append(parts, "zone "+h.Zone)
		}
		if h.Service != "" {
			parts = append(parts, "service "+h.Service)
		}
		if h.Client != "" {
			parts = append(parts, "client "+h.Client)
		}
		if len(parts) == 0 {
			return "any"
		}
		return strings.Join(parts, " ")
	}
	arrow := " <-> "
	switch {
	case f.Partition != nil:
		if f.Partition.OneWay {
			arrow = " -> "
		}
		return set(f.Partition.From) + arrow + set(f.Partition.To)
	case f.LinkLatency != nil:
		return set(f.LinkLatency.From) + arrow + set(f.LinkLatency.To)
	case f.Loss != nil:
		return set(f.Loss.From) + arrow + set(f.Loss.To)
	case f.Broker != nil:
		topic := "every topic"
		if f.Broker.Topic != "" {
			topic = "topic " + f.Broker.Topic
		}
		return "events of " + set(f.Broker.From) + " on " + topic
	}
	return "registry"
}
