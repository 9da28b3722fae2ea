package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/service"
)

var (
	descRetries = prometheus.NewDesc("micro_client_retries_total",
		"Retries granted by the retry policy and the retry budget.", []string{LabelClient}, nil)
	descRetriesDenied = prometheus.NewDesc("micro_client_retries_denied_total",
		"Retries the retry policy asked for and the retry budget refused.", []string{LabelClient}, nil)
	descHedges = prometheus.NewDesc("micro_client_hedges_total",
		"Backup requests (hedges) sent.", []string{LabelClient}, nil)
	descHedgesWon = prometheus.NewDesc("micro_client_hedges_won_total",
		"Calls answered by a hedge.", []string{LabelClient}, nil)
	descHedgesDenied = prometheus.NewDesc("micro_client_hedges_denied_total",
		"Hedges not sent because the retry budget refused them.", []string{LabelClient}, nil)

	nodeLabels       = []string{LabelClient, LabelName, LabelNodeID}
	descNodeRequests = prometheus.NewDesc("micro_selector_node_requests_total",
		"Attempts sent to a node, as the client's selector counts them.", nodeLabels, nil)
	descNodeFailures = prometheus.NewDesc("micro_selector_node_failures_total",
		"Attempts on a node that failed.", nodeLabels, nil)
	descNodeInFlight = prometheus.NewDesc("micro_selector_node_in_flight",
		"Attempts on a node begun and not yet ended.", nodeLabels, nil)
	descNodeLatency = prometheus.NewDesc("micro_selector_node_latency_seconds",
		"Moving average of a node's attempt latency.", nodeLabels, nil)
	descNodeEjections = prometheus.NewDesc("micro_selector_node_ejections_total",
		"Ejections of a node by outlier detection.", nodeLabels, nil)
	descNodeEjected = prometheus.NewDesc("micro_selector_node_ejected",
		"1 while a node is ejected (or its probe pending), else 0.", nodeLabels, nil)

	descInFlight = prometheus.NewDesc("micro_server_in_flight",
		"Requests being served.", []string{LabelName}, nil)
	descRefused = prometheus.NewDesc("micro_server_refused_total",
		"Requests refused unprocessed because the server was at its concurrency limit.", []string{LabelName}, nil)
)

// clientCollector reads a client's counters when scraped.
type clientCollector struct {
	name  string
	sr    client.StatsReporter
	peers []string
}

// NewClientCollector returns a collector of c's counters, labelled
// micro_client=name: retries granted and refused by the retry budget,
// hedges sent, won and refused, and, for each service in peers, its
// selector's counters per node. c must be a client.StatsReporter (the
// client that client.New returns is). The collector reads c when
// scraped; register it on the registry that serves it.
func NewClientCollector(name string, c client.Client, peers ...string) (prometheus.Collector, error) {
	sr, ok := c.(client.StatsReporter)
	if !ok {
		return nil, fmt.Errorf("metrics: client collector %q: %T keeps no stats (client.StatsReporter)", name, c)
	}
	return &clientCollector{name: name, sr: sr, peers: append([]string(nil), peers...)}, nil
}

// Describe implements prometheus.Collector.
func (c *clientCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRetries, descRetriesDenied, descHedges, descHedgesWon, descHedgesDenied,
		descNodeRequests, descNodeFailures, descNodeInFlight, descNodeLatency, descNodeEjections, descNodeEjected} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *clientCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.sr.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(descRetries, s.Retries, c.name)
	counter(descRetriesDenied, s.RetriesDenied, c.name)
	counter(descHedges, s.Hedges, c.name)
	counter(descHedgesWon, s.HedgesWon, c.name)
	counter(descHedgesDenied, s.HedgesDenied, c.name)
	for _, svc := range c.peers {
		for _, n := range c.sr.NodeStats(svc) {
			counter(descNodeRequests, n.Requests, c.name, svc, n.ID)
			counter(descNodeFailures, n.Failures, c.name, svc, n.ID)
			gauge(descNodeInFlight, float64(n.InFlight), c.name, svc, n.ID)
			gauge(descNodeLatency, n.Latency.Seconds(), c.name, svc, n.ID)
			counter(descNodeEjections, n.Ejections, c.name, svc, n.ID)
			ejected := 0.0
			if n.Ejected {
				ejected = 1
			}
			gauge(descNodeEjected, ejected, c.name, svc, n.ID)
		}
	}
}

// serverCollector reads a server's counters when scraped.
type serverCollector struct {
	name string
	sr   server.StatsReporter
}

// NewServerCollector returns a collector of s's requests in flight and
// refused for overload, labelled micro_name=name. s must be a
// server.StatsReporter (the server that server.New returns is).
func NewServerCollector(name string, s server.Server) (prometheus.Collector, error) {
	sr, ok := s.(server.StatsReporter)
	if !ok {
		return nil, fmt.Errorf("metrics: server collector %q: %T keeps no stats (server.StatsReporter)", name, s)
	}
	return &serverCollector{name: name, sr: sr}, nil
}

// Describe implements prometheus.Collector.
func (c *serverCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descInFlight
	ch <- descRefused
}

// Collect implements prometheus.Collector.
func (c *serverCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.sr.Stats()
	ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(s.InFlight), c.name)
	ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(s.Refused), c.name)
}

// NewServiceCollector returns a collector of svc's server and client
// counters (see NewServerCollector and NewClientCollector), both labelled
// with the service's name; peers are the services whose per-node selector
// counters it reports.
func NewServiceCollector(svc *service.Service, peers ...string) (prometheus.Collector, error) {
	cc, err := NewClientCollector(svc.Name(), svc.Client(), peers...)
	if err != nil {
		return nil, err
	}
	sc, err := NewServerCollector(svc.Name(), svc.Server())
	if err != nil {
		return nil, err
	}
	return collectors{cc, sc}, nil
}

// collectors is several collectors as one.
type collectors []prometheus.Collector

// Describe implements prometheus.Collector.
func (cs collectors) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range cs {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (cs collectors) Collect(ch chan<- prometheus.Metric) {
	for _, c := range cs {
		c.Collect(ch)
	}
}
