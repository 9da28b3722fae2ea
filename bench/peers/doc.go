// Package peers benchmarks microsim's unary call against its peers on the
// same 1 KiB echo: grpc-go, net/rpc, go-micro v5 and a raw TCP ping-pong
// (the floor: one write and one read per call), over TCP on 127.0.0.1, and
// microsim's in-memory transport against grpc-go over bufconn.
//
// It is a module of its own so that the main module never depends on the
// peers. Run it through ../run.sh, which interleaves the peers over several
// rounds and prints the table and the ratios with benchstat:
//
//	go test -run '^$' -bench . ./
//
// Every benchmark is named Echo/net=<tcp|mem>/conc=<n>/peer=<name> and
// reports calls/s and allocations, so benchstat -col /peer compares peers.
package peers
