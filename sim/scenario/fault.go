package scenario

// Fault is one entry of the fault timeline: when it is active and what it
// does. Exactly one kind field (Crash, Stop, ...) must be set.
//
// The fault is active from At for For (or until Until); with Every it
// starts again every Every, until Until or the end of the run. With
// Stagger and a target of several instances, instance k of the target
// starts k*Stagger after the others (a rolling fault).
type Fault struct {
	// Name identifies the fault in reports and recovery assertions
	// (default "<kind>-<index>").
	Name string `yaml:"name"`
	// At is when the fault starts (default 0).
	At Duration `yaml:"at"`
	// For is how long each occurrence lasts (default: until Until, or to
	// the end of the run).
	For Duration `yaml:"for"`
	// Until is when the fault stops for good.
	Until Duration `yaml:"until"`
	// Every repeats the fault with this period (must exceed For).
	Every Duration `yaml:"every"`
	// Stagger offsets the instances of the target one after another.
	Stagger Duration `yaml:"stagger"`

	// Crash crashes the target's hosts: connections reset, the registry
	// entry stays until its TTL passes (a ghost). When the fault ends the
	// host restarts and the instance serves again on the same address.
	Crash *NodeFault `yaml:"crash"`
	// Stop stops the target's servers gracefully (deregister, drain); when
	// the fault ends they start again.
	Stop *NodeFault `yaml:"stop"`
	// Slow makes the target's handlers slower.
	Slow *SlowFault `yaml:"slow"`
	// Errors makes the target's handlers fail.
	Errors *ErrorsFault `yaml:"errors"`
	// Partition cuts the links between two groups of hosts.
	Partition *PartitionFault `yaml:"partition"`
	// LinkLatency adds latency on the links between two groups of hosts.
	LinkLatency *LinkLatencyFault `yaml:"link_latency"`
	// Loss drops messages on the links between two groups of hosts.
	Loss *LossFault `yaml:"loss"`
	// RegistryOutage makes the registry unavailable.
	RegistryOutage *RegistryOutageFault `yaml:"registry_outage"`
	// Pause stops the target's servers from serving and heartbeating;
	// they resume when the fault ends.
	Pause *NodeFault `yaml:"pause"`
	// Broker acts on the events hosts publish: an outage, drops, delays,
	// duplicates.
	Broker *BrokerFault `yaml:"broker"`
}

// Target selects instances of the topology.
type Target struct {
	// Service limits the target to one service's instances.
	Service string `yaml:"service"`
	// Instance selects one instance by index (needs Service).
	Instance *int `yaml:"instance"`
	// Instances selects instances by index (needs Service).
	Instances []int `yaml:"instances"`
	// Zone limits the target to one zone.
	Zone string `yaml:"zone"`
	// Labels limits the target to instances with these labels.
	Labels map[string]string `yaml:"labels"`
	// Random picks this many of the matching instances at random.
	Random int `yaml:"random"`
	// Share picks this share, in (0, 1], of the matching instances at random.
	Share float64 `yaml:"share"`
}

// NodeFault is a fault on the target's instances.
type NodeFault struct {
	// Target selects the instances (required).
	Target Target `yaml:"target"`
}

// SlowFault slows the target's handlers down.
type SlowFault struct {
	// Target selects the instances (required).
	Target Target `yaml:"target"`
	// Factor multiplies handler latency (default 1).
	Factor float64 `yaml:"factor"`
	// Add is extra latency added to every call.
	Add Latency `yaml:"add"`
}

// ErrorsFault makes the target's handlers fail at a rate.
type ErrorsFault struct {
	// Target selects the instances (required).
	Target Target `yaml:"target"`
	// Rate is the probability, in [0, 1], that a call fails (required).
	Rate float64 `yaml:"rate"`
	// Code is the returned error code (default "unavailable").
	Code string `yaml:"code"`
	// Endpoint limits the fault to one endpoint.
	Endpoint string `yaml:"endpoint"`
}

// PartitionFault cuts links between From and To.
type PartitionFault struct {
	// From and To are the two groups of hosts (clients are selected by
	// zone; an empty target means every host).
	From HostSet `yaml:"from"`
	To   HostSet `yaml:"to"`
	// OneWay cuts only From -> To (default: both ways).
	OneWay bool `yaml:"one_way"`
	// Mode is "refuse" (connection refused or reset, default) or "drop"
	// (a black hole: messages vanish).
	Mode string `yaml:"mode"`
}

// HostSet selects hosts: instances and clients.
type HostSet struct {
	// Zone selects every host, instance or client, in the zone.
	Zone string `yaml:"zone"`
	// Service selects a service's instances.
	Service string `yaml:"service"`
	// Client selects one client.
	Client string `yaml:"client"`
}

// LinkLatencyFault adds latency to messages between From and To.
type LinkLatencyFault struct {
	From    HostSet `yaml:"from"`
	To      HostSet `yaml:"to"`
	Latency Latency `yaml:"latency"`
}

// LossFault drops messages between From and To at a rate.
type LossFault struct {
	From HostSet `yaml:"from"`
	To   HostSet `yaml:"to"`
	// Rate is the probability, in [0, 1], that a message is lost.
	Rate float64 `yaml:"rate"`
}

// RegistryOutageFault makes the registry unavailable to every host.
type RegistryOutageFault struct{}

// BrokerFault acts on the events the hosts of From publish (every host
// by default), on Topic (every topic by default): Unavailable makes
// publishing fail (an outage); otherwise an event is dropped with
// probability Drop (publishing succeeds), published Delay later, and
// twice with probability Duplicate.
type BrokerFault struct {
	From        HostSet `yaml:"from"`
	Topic       string  `yaml:"topic"`
	Unavailable bool    `yaml:"unavailable"`
	Drop        float64 `yaml:"drop"`
	Delay       Latency `yaml:"delay"`
	Duplicate   float64 `yaml:"duplicate"`
}

// kind returns the fault's kind name and whether exactly one is set.
func (f *Fault) kinds() []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(f.Crash != nil, "crash")
	add(f.Stop != nil, "stop")
	add(f.Slow != nil, "slow")
	add(f.Errors != nil, "errors")
	add(f.Partition != nil, "partition")
	add(f.LinkLatency != nil, "link_latency")
	add(f.Loss != nil, "loss")
	add(f.RegistryOutage != nil, "registry_outage")
	add(f.Pause != nil, "pause")
	add(f.Broker != nil, "broker")
	return out
}

// Kind is the name of the fault's kind ("" when none or several are set).
func (f *Fault) Kind() string {
	if k := f.kinds(); len(k) == 1 {
		return k[0]
	}
	return ""
}

// faultKinds lists every kind a file may name.
var faultKindNames = []string{"crash", "stop", "slow", "errors", "partition", "link_latency", "loss", "registry_outage", "pause", "broker"}

// unknownFieldMessage implements unknownFielder.
func (*Fault) unknownFieldMessage(key string, known []string) string {
	return unknownKindMessage("fault kind or field", key, known)
}
