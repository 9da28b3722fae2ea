// Package faults injects failures into a microsim world: link faults
// (latency, loss, partitions) on transports, RPC faults at handlers, node
// crashes, and registry and broker failures, each drawing randomness from
// its own seeded stream. It is built out in its own issue.
package faults
