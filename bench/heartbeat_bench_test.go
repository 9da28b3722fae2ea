package bench

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/memory"
)

// BenchmarkHeartbeats runs the heartbeats of n servers of one service,
// each on its own host of a memory network, sharing one Heartbeater as
// the instances of a simulated world do (TTL 3s, a beat a second), in
// virtual time. An op is one virtual second: n beats, each registering
// its unchanged node again. cpu-ns/beat is the process's CPU time per
// beat, allocs/beat the heap allocations. With cold, a 64 MiB walk
// between the seconds (not counted) pushes the servers' and the
// registry's data out of the CPU's nearer caches, as the calls of a
// large world do between an instance's beats.
func BenchmarkHeartbeats(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		for _, cold := range []bool{false, true} {
			b.Run(fmt.Sprintf("servers=%d/cold=%v", n, cold), func(b *testing.B) {
				var cpu time.Duration
				var allocs uint64
				inBubble(b, func(t *testing.T) { cpu, allocs = heartbeats(t, b.N, n, cold) })
				beats := float64(b.N * n)
				b.ReportMetric(float64(cpu.Nanoseconds())/beats, "cpu-ns/beat")
				b.ReportMetric(float64(allocs)/beats, "allocs/beat")
			})
		}
	}
}

// heartbeats starts n servers and measures secs seconds of their beats.
func heartbeats(t *testing.T, secs, n int, cold bool) (time.Duration, uint64) {
	net := memory.MustNetwork()
	defer func() { _ = net.Close() }()
	hb := server.NewHeartbeater()
	for i := range n {
		h := net.Host(fmt.Sprintf("api-%d", i))
		s, err := server.New("api", h.Transport(), h.Registry(), server.WithAddress(h.Name()+":1"),
			server.WithRegisterTTL(3*time.Second), server.WithRegisterInterval(time.Second), server.WithHeartbeater(hb),
			server.WithMetadata(map[string]string{"zone": "a"}))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Handle(Echo{}); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = s.Stop(context.Background()) }()
	}
	time.Sleep(2500 * time.Millisecond) // past the first beats
	var evict []byte
	if cold {
		evict = make([]byte, 64<<20)
	}
	var cpu time.Duration
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mallocs := ms.Mallocs
	for range secs {
		for i := 0; i < len(evict); i += 64 {
			evict[i]++
		}
		c := cpuTime()
		time.Sleep(time.Second)
		cpu += cpuTime() - c
	}
	runtime.ReadMemStats(&ms)
	got, err := net.Registry().GetService(context.Background(), "api")
	if err != nil || len(got) != 1 || len(got[0].Nodes) != n {
		t.Fatalf("registry after the beats: %v nodes, err %v", got, err)
	}
	return cpu, ms.Mallocs - mallocs
}

// inBubble runs f in a testing/synctest bubble under b (synctest needs a
// *testing.T).
func inBubble(b *testing.B, f func(t *testing.T)) {
	b.Helper()
	ok := testing.RunTests(func(string, string) (bool, error) { return true, nil }, []testing.InternalTest{{
		Name: "bubble",
		F:    func(t *testing.T) { synctest.Test(t, f) },
	}})
	if !ok {
		b.Fatal("the bubble failed")
	}
}
