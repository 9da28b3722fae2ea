// Package microsim is a Go microservices framework in the go-micro mould —
// pluggable Transport, Codec, Registry, Selector, Broker, Client, Server and
// Service — built first of all to be tested: every abstraction has an
// in-memory implementation (package memory) that runs a whole cluster inside
// one go test process in virtual time (testing/synctest), and a real network
// implementation that passes the same conformance suite.
//
// The framework lives under framework/; this package holds only the
// documentation and the quickstart example shown in the README.
package microsim
