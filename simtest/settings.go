package simtest

import (
	"maps"
	"time"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/server"
)

// Setting configures a service's instances (Cluster.Service) or a client
// (Cluster.Client); Defaults applies settings to all of them.
type Setting func(*settings)

// settings are the options of one service or client.
type settings struct {
	client   []client.Option
	selector []selector.Option
	server   []server.Option
	zones    []string
	labels   map[string]string
	ttl      time.Duration
}

// ClientOptions passes options to client.New: retries (WithRetryPolicy),
// budget (WithRetryBudget), hedging (WithHedging), timeouts
// (WithDefaultTimeout, WithAttemptTimeout) and the rest. For a service
// they configure the client each instance's handler is built with. The
// cluster's own call and attempt wrappers (counters, then the client edge
// of the faults) are always installed, outermost.
func ClientOptions(opts ...client.Option) Setting {
	return func(s *settings) { s.client = append(s.client, opts...) }
}

// SelectorOptions passes options to selector.New, for example a strategy
// (selector.WithStrategy(selector.RoundRobin()) as an option) or outlier
// detection.
func SelectorOptions(opts ...selector.Option) Setting {
	return func(s *settings) { s.selector = append(s.selector, opts...) }
}

// ServerOptions passes options to server.New for every instance of a
// service (ignored by a client). The cluster's own options (node ID,
// address, broker, wrappers) come first, so these win where they overlap.
func ServerOptions(opts ...server.Option) Setting {
	return func(s *settings) { s.server = append(s.server, opts...) }
}

// Zones places the instances of a service in zones, instance i in
// zones[i%len(zones)], or a client in zones[0]. The zone is a fault
// target (faults.Zone) and the node metadata selector.ZoneKey.
func Zones(zones ...string) Setting {
	return func(s *settings) { s.zones = append([]string(nil), zones...) }
}

// Labels adds node labels: fault targets (faults.Target.Labels) and, for
// instances, node metadata.
func Labels(labels map[string]string) Setting {
	return func(s *settings) {
		if s.labels == nil {
			s.labels = map[string]string{}
		}
		maps.Copy(s.labels, labels)
	}
}

// RegisterTTL sets the TTL of the instances' registrations (heartbeat
// every third of it); the default is the server's, 30s. A crashed
// instance stays listed this long.
func RegisterTTL(d time.Duration) Setting {
	return func(s *settings) { s.ttl = d }
}

// resolve applies the cluster defaults, then own.
func resolveSettings(defaults, own []Setting) settings {
	var s settings
	for _, set := range defaults {
		if set != nil {
			set(&s)
		}
	}
	for _, set := range own {
		if set != nil {
			set(&s)
		}
	}
	return s
}

// zone is the zone of instance i ("" without Zones).
func (s *settings) zone(i int) string {
	if len(s.zones) == 0 {
		return ""
	}
	return s.zones[i%len(s.zones)]
}

// metadata is the node metadata of an instance in zone.
func (s *settings) metadata(zone string) map[string]string {
	md := maps.Clone(s.labels)
	if zone != "" {
		if md == nil {
			md = map[string]string{}
		}
		md[selector.ZoneKey] = zone
	}
	return md
}
