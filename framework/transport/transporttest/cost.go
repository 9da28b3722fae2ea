package transporttest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
)

// testSameCost: the transport under test (typically a stack of
// decorators) costs a unary round trip no more allocations than
// Suite.Baseline (the transport it decorates), so that a decorated world
// runs the same fast paths as production: the one-step open and close,
// the pooled memory of lent messages, the objects made per stream.
func testSameCost(w *world) {
	t := w.t
	if w.s.Baseline == nil {
		t.Skip("no Suite.Baseline to compare with")
	}
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	got := roundTripAllocs(w, w.listenT, w.dialT, w.addr)
	bl, bd, baddr := w.s.Baseline(t)
	want := roundTripAllocs(w, bl, bd, baddr)
	t.Logf("allocations per unary round trip: %.3f, baseline %.3f", got, want)
	require.LessOrEqual(t, got, want+costSlack,
		"a unary round trip costs %.3f allocations, the baseline transport %.3f", got, want)
}

// costSlack is the allocations per round trip testSameCost tolerates
// above the baseline: a pooled object the GC took, a slab (slab.Size
// values per allocation) begun during the measure.
const costSlack = 0.25

// roundTripAllocs returns the average allocations, both sides together,
// of a unary round trip over a connection from dial to a listener of
// listen: NewStream with the request, the server's Recv and SendClose of
// the echo, the client's Recv and Close.
func roundTripAllocs(w *world, listen, dial transport.Transport, addr string) float64 {
	t := w.t
	l, err := listen.Listen(addr)
	require.NoError(t, err)
	ctx := w.ctx
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = l.Serve(func(s transport.Socket) {
			defer s.Close()
			if m, err := s.Recv(ctx); err == nil {
				_ = s.SendClose(ctx, m)
			}
		})
	}()
	defer func() {
		l.Close()
		<-served
	}()
	c, err := dial.Dial(ctx, l.Addr())
	require.NoError(t, err)
	defer c.Close()
	req := numbered(1, 3)
	call := func() {
		s, err := c.NewStream(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Recv(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for range 200 { // warm the pools
		call()
	}
	const batch = 160 // a multiple of the slab size: whole slabs per run
	n := testing.AllocsPerRun(20, func() {
		for range batch {
			call()
		}
	})
	return n / batch
}
