// Package e2e holds end-to-end tests over real network parts: servers on
// the TCP transport (framework/transport/tcp) registered in a real Consul
// agent (framework/registry/consul), a client that reaches them through the
// default selector fed by Consul's watch, events through an embedded
// NATS server (framework/broker/nats), and metrics scraped by Prometheus.
//
// The package has no code of its own, only tests. They run in real time on
// loopback (real sockets cannot run in a testing/synctest bubble) and wait
// on channels with bounded deadlines, never on bare sleeps. The Consul tests
// share one agent per test binary (framework/registry/consul/consultest):
// without a consul binary on PATH they are skipped with a message saying how
// to run them, and with MICROSIM_REQUIRE_CONSUL=1 (as `make test` sets) they
// fail instead. The NATS test needs nothing installed. The metrics test has
// a real Prometheus server (Debian's prometheus package) scrape a service's
// /metrics on 127.0.0.1 and reads a counter back through its query API,
// and lints the exposition with promtool; it is skipped without them on
// PATH, or fails with MICROSIM_REQUIRE_PROMETHEUS=1.
package e2e
