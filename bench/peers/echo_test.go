package peers

import (
	"fmt"
	"sync"
	"testing"
)

// payloadSize is the echoed payload: 1 KiB.
const payloadSize = 1 << 10

// concs are the concurrent callers per client; each client uses one
// connection (see each peer for the exceptions).
var concs = []int{1, 64}

// setup starts a peer's server and client and returns the call that one
// of conc workers makes; everything is stopped at b.Cleanup.
type setup func(b *testing.B, conc int) (call func(worker int) error)

// BenchmarkEcho runs the 1 KiB echo for every peer. Within one network and
// concurrency microsim runs first, so benchstat -col /peer takes it as the
// base column.
//
//	go test -run '^$' -bench Echo -count 6 ./
func BenchmarkEcho(b *testing.B) {
	tcpPeers := []struct {
		name string
		s    setup
	}{
		{"microsim", microsimTCP},
		{"grpc", grpcTCP},
		{"netrpc", netrpcTCP},
		{"gomicro", gomicroTCP},
		{"rawtcp", rawTCP},
		{"rawhandoff", rawHandoff},
		{"rawhandoff2", rawHandoff2},
	}
	for _, conc := range concs {
		for _, p := range tcpPeers {
			b.Run(fmt.Sprintf("net=tcp/conc=%d/peer=%s", conc, p.name), func(b *testing.B) { run(b, conc, p.s) })
		}
	}
	memPeers := []struct {
		name string
		s    setup
	}{
		{"microsim", microsimMemory},
		{"grpc", grpcBufconn},
	}
	for _, conc := range concs {
		for _, p := range memPeers {
			b.Run(fmt.Sprintf("net=mem/conc=%d/peer=%s", conc, p.name), func(b *testing.B) { run(b, conc, p.s) })
		}
	}
}

// run spreads b.N calls over conc goroutines and reports calls/s and the
// process's CPU time per call.
func run(b *testing.B, conc int, s setup) {
	call := s(b, conc)
	for w := range conc { // warm up: dial, caches, one call per worker
		if err := call(w); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(payloadSize)
	b.ReportAllocs()
	b.ResetTimer()
	cpu, switches := cpuTime(), contextSwitches()
	var wg sync.WaitGroup
	var once sync.Once
	for w := range conc {
		n := b.N / conc
		if w < b.N%conc {
			n++
		}
		wg.Go(func() {
			for range n {
				if err := call(w); err != nil {
					once.Do(func() { b.Error(err) })
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	reportCPU(b, cpu)
	reportSwitches(b, switches)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// checkEcho verifies an echo came back whole.
func checkEcho(got []byte) error {
	if len(got) != payloadSize {
		return fmt.Errorf("echo of %d bytes came back with %d", payloadSize, len(got))
	}
	return nil
}
