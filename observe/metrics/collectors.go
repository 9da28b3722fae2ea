package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/service"
)

// clientDescs are the metric descriptions of one client collector: its
// name is a constant label, so that the collectors of several clients
// differ to the registry.
type clientDescs struct {
	retries, retriesDenied, hedges, hedgesWon, hedgesDenied           *prometheus.Desc
	nodeRequests, nodeFailures, nodeInFlight, nodeLatency, nodeEjects *prometheus.Desc
	nodeEjected                                                       *prometheus.Desc
}

func newClientDescs(name string) clientDescs {
	own := prometheus.Labels{LabelClient: name}
	d := func(metric, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(metric, help, labels, own)
	}
	node := []string{LabelName, LabelNodeID}
	return clientDescs{
		retries:       d("micro_client_retries_total", "Retries granted by the retry policy and the retry budget."),
		retriesDenied: d("micro_client_retries_denied_total", "Retries the retry policy asked for and the retry budget refused."),
		hedges:        d("micro_client_hedges_total", "Backup requests (hedges) sent."),
		hedgesWon:     d("micro_client_hedges_won_total", "Calls answered by a hedge."),
		hedgesDenied:  d("micro_client_hedges_denied_total", "Hedges not sent because the retry budget refused them."),
		nodeRequests:  d("micro_selector_node_requests_total", "Attempts sent to a node, as the client's selector counts them.", node...),
		nodeFailures:  d("micro_selector_node_failures_total", "Attempts on a node that failed.", node...),
		nodeInFlight:  d("micro_selector_node_in_flight", "Attempts on a node begun and not yet ended.", node...),
		nodeLatency:   d("micro_selector_node_latency_seconds", "Moving average of a node's attempt latency.", node...),
		nodeEjects:    d("micro_selector_node_ejections_total", "Ejections of a node by outlier detection.", node...),
		nodeEjected:   d("micro_selector_node_ejected", "1 while a node is ejected (or its probe pending), else 0.", node...),
	}
}

// clientCollector reads a client's counters when scraped.
type clientCollector struct {
	d     clientDescs
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
	return &clientCollector{d: newClientDescs(name), sr: sr, peers: append([]string(nil), peers...)}, nil
}

// Describe implements prometheus.Collector.
func (c *clientCollector) Describe(ch chan<- *prometheus.Desc) {
	d := &c.d
	for _, desc := range []*prometheus.Desc{d.retries, d.retriesDenied, d.hedges, d.hedgesWon, d.hedgesDenied,
		d.nodeRequests, d.nodeFailures, d.nodeInFlight, d.nodeLatency, d.nodeEjects, d.nodeEjected} {
		ch <- desc
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
	d := &c.d
	counter(d.retries, s.Retries)
	counter(d.retriesDenied, s.RetriesDenied)
	counter(d.hedges, s.Hedges)
	counter(d.hedgesWon, s.HedgesWon)
	counter(d.hedgesDenied, s.HedgesDenied)
	for _, svc := range c.peers {
		for _, n := range c.sr.NodeStats(svc) {
			counter(d.nodeRequests, n.Requests, svc, n.ID)
			counter(d.nodeFailures, n.Failures, svc, n.ID)
			gauge(d.nodeInFlight, float64(n.InFlight), svc, n.ID)
			gauge(d.nodeLatency, n.Latency.Seconds(), svc, n.ID)
			counter(d.nodeEjects, n.Ejections, svc, n.ID)
			ejected := 0.0
			if n.Ejected {
				ejected = 1
			}
			gauge(d.nodeEjected, ejected, svc, n.ID)
		}
	}
}

// serverCollector reads a server's counters when scraped.
type serverCollector struct {
	inFlight, refused *prometheus.Desc // micro_name is a constant label
	sr                server.StatsReporter
}

// NewServerCollector returns a collector of s's requests in flight and
// refused for overload, labelled micro_name=name. s must be a
// server.StatsReporter (the server that server.New returns is).
func NewServerCollector(name string, s server.Server) (prometheus.Collector, error) {
	sr, ok := s.(server.StatsReporter)
	if !ok {
		return nil, fmt.Errorf("metrics: server collector %q: %T keeps no stats (server.StatsReporter)", name, s)
	}
	own := prometheus.Labels{LabelName: name}
	return &serverCollector{
		inFlight: prometheus.NewDesc("micro_server_in_flight", "Requests being served.", nil, own),
		refused: prometheus.NewDesc("micro_server_refused_total",
			"Requests refused unprocessed because the server was at its concurrency limit.", nil, own),
		sr: sr,
	}, nil
}

// Describe implements prometheus.Collector.
func (c *serverCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.inFlight
	ch <- c.refused
}

// Collect implements prometheus.Collector.
func (c *serverCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.sr.Stats()
	ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(s.InFlight))
	ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(s.Refused))
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
