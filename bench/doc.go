// Package bench holds microsim's go test -bench suites; it has no
// non-test code. Each benchmark reports calls/s (b.ReportMetric), the
// process's CPU time per operation (cpu-ns/op, client and server together,
// steadier than ns/op on a shared machine) and allocations:
//
//   - BenchmarkCodec: encode plus decode with the JSON, protobuf and bytes
//     codecs at 64 B, 1 KiB and 64 KiB.
//   - BenchmarkCallMemory, BenchmarkCallTCP: a unary Call end to end
//     (client, selector, server, protobuf codec with wrapperspb.BytesValue,
//     an echo handler) over the memory transport and over TCP on 127.0.0.1
//     with one pooled connection, at 64 B, 1 KiB and 64 KiB and 1, 8, 64
//     and 256 concurrent callers.
//   - BenchmarkFaultedIdle: the memory Call bare and with faults'
//     transport wrapper installed but no fault in effect, side by side.
//   - BenchmarkPubSub: publish to one subscriber through the memory broker
//     and through NATS (an embedded nats-server on a random 127.0.0.1 port).
//   - BenchmarkSelector*, BenchmarkStrategyPick, BenchmarkTrackerOnly:
//     selector picks (selector_bench_test.go).
//   - BenchmarkSim: simulation speed, virtual seconds per wall second for a
//     reference scenario (sim_bench_test.go).
//
// The comparison with grpc-go, net/rpc, go-micro v5 and a raw TCP
// ping-pong lives in bench/peers, a module of its own so that the main
// module does not depend on them; bench/run.sh runs it and README.md holds
// the latest table.
//
//	go test -run '^$' -bench . ./bench/
package bench
