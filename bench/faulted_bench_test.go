package bench

import (
	"fmt"
	"testing"

	"github.com/microsim/microsim/faults"
	"github.com/microsim/microsim/memory"
)

// BenchmarkFaultedIdle is a unary 1 KiB Call over the memory transport in
// two worlds, run side by side: bare (the hosts' transports, whose pause
// decorator every memory host has) and faulted (faults' transport wrapper
// around both hosts' transports, as a simulation with faults installs it,
// with no fault in effect). A decorated seam keeps the bare one's fast
// paths, so the faulted world costs about what the bare one does per call:
// compare the two sub-benchmarks' cpu-ns/op and calls/s of the same run.
//
//	go test -run '^$' -bench FaultedIdle -count 6 ./bench/
func BenchmarkFaultedIdle(b *testing.B) {
	for _, conc := range []int{1, 64} {
		for _, faulted := range []bool{false, true} {
			name := "bare"
			if faulted {
				name = "faulted"
			}
			b.Run(fmt.Sprintf("conc=%d/%s", conc, name), func(b *testing.B) {
				benchEcho(b, newFaultableWorld(b, faulted), conc, 1<<10)
			})
		}
	}
}

// newFaultableWorld is newMemoryWorld, with faults' transport wrapper
// around the server's and the client's transports when faulted.
func newFaultableWorld(b testing.TB, faulted bool) *echoWorld {
	b.Helper()
	net := memory.MustNetwork()
	b.Cleanup(func() { _ = net.Close() })
	sh, ch := net.Host("echo-0"), net.Host("client")
	srvTr, cliTr := sh.Transport(), ch.Transport()
	if faulted {
		inj := faults.New(1)
		b.Cleanup(func() { _ = inj.Close() })
		srvTr = inj.WrapTransport("echo-0", srvTr, nil)
		cliTr = inj.WrapTransport("client", cliTr, nil)
	}
	return newEchoWorld(b, srvTr, cliTr, ch.Registry(), "", worldOptions{})
}
