//go:build !race

package memory

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/internal/poison"
)

// TestColdConnectionAllocations: a connection that waited long between
// two calls (as most of a large world's do; here, across two GC cycles,
// which drop what a sync.Pool was not asked for in between) copies the
// next call's request and reply into the network's spare messages, as a
// busy one does, on the stream its last call recycled, as long as the
// network carried calls meanwhile: a unary exchange allocates nothing,
// cold or warm, but for its pair of sockets, made slab.Size pairs at a
// time (which testing.AllocsPerRun's whole-number average leaves out).
// So do several requests on their way at once, once the spares have as
// many. Allocation counts mean nothing under the race detector
// (sync.Pool drops items at random there), so this file is built without
// it (`make allocs`).
func TestColdConnectionAllocations(t *testing.T) {
	if poison.On {
		t.Skip("built with microsim_poison: a message whose lease ended is poisoned, never reused")
	}
	ctx := context.Background()
	n := MustNetwork()
	defer n.Close()
	l, err := n.Host("srv").Transport().Listen("")
	require.NoError(t, err)
	defer l.Close()
	tc, err := n.Host("cli").Transport().Dial(ctx, l.Addr())
	require.NoError(t, err)
	defer tc.Close()

	body := bytes.Repeat([]byte{'x'}, 1<<10)
	req := &transport.Message{Header: map[string]string{
		"Micro-Service": "echo", "Micro-Endpoint": "Echo.Echo",
		"Content-Type": "application/protobuf", "Micro-Timeout": "5s",
	}, Body: body}
	reply := &transport.Message{Header: map[string]string{"Content-Type": "application/protobuf"}, Body: body}

	// open opens k streams with req before the server takes any (k
	// requests on their way at once) and returns both ends of each,
	// appended to cli and srv.
	open := func(k int, cli, srv []transport.Socket) ([]transport.Socket, []transport.Socket) {
		for range k {
			cs, err := tc.NewStream(ctx, req)
			require.NoError(t, err)
			cli = append(cli, cs)
		}
		for range k {
			ss, err := rawListener(l).accept(ctx)
			require.NoError(t, err)
			srv = append(srv, ss)
		}
		return cli, srv
	}
	// finish answers every stream of open, then closes both ends: the
	// server's Close ends the request's lease, the client's the reply's.
	finish := func(cli, srv []transport.Socket) error {
		for i := range cli {
			m, err := srv[i].Recv(ctx)
			if err != nil {
				return err
			}
			if !bytes.Equal(m.Body, body) || m.Header["Micro-Timeout"] != "5s" || len(m.Header) != 4 {
				return fmt.Errorf("request %d: %d bytes, header %v", i, len(m.Body), m.Header)
			}
			if err := srv[i].Send(ctx, reply); err != nil {
				return err
			}
		}
		for i := range cli {
			if err := srv[i].Close(); err != nil {
				return err
			}
			m, err := cli[i].Recv(ctx)
			if err != nil {
				return err
			}
			if !bytes.Equal(m.Body, body) || len(m.Header) != 1 {
				return fmt.Errorf("reply %d: %d bytes, header %v", i, len(m.Body), m.Header)
			}
			if err := cli[i].Close(); err != nil {
				return err
			}
		}
		return nil
	}
	// The sockets outlive each call: a slice of them per call would be
	// counted as the transport's allocations.
	cli, srv := make([]transport.Socket, 0, 4), make([]transport.Socket, 0, 4)
	var callErr error
	call := func() {
		cli, srv = cli[:0], srv[:0]
		cs, err := tc.NewStream(ctx, req)
		if err == nil {
			var ss transport.Socket
			if ss, err = rawListener(l).accept(ctx); err == nil {
				err = finish(append(cli, cs), append(srv, ss))
			}
		}
		if err != nil && callErr == nil {
			callErr = err
		}
	}
	// Another client's connection to the same server: the network's
	// other calls.
	otc, err := n.Host("other").Transport().Dial(ctx, l.Addr())
	require.NoError(t, err)
	defer otc.Close()
	other := func() {
		cs, err := otc.NewStream(ctx, req)
		if err == nil {
			var ss transport.Socket
			if ss, err = rawListener(l).accept(ctx); err == nil {
				err = finish([]transport.Socket{cs}, []transport.Socket{ss})
			}
		}
		if err != nil && callErr == nil {
			callErr = err
		}
	}
	require.Zero(t, testing.AllocsPerRun(200, call), "allocations per unary exchange, warm")
	// A cold call: two GC cycles since the connection's last call, with
	// the network's other calls in between. (A GC drops the spares'
	// per-processor storage, which the next call on the network, any
	// connection's, makes again: other's, not counted here.)
	var before, after runtime.MemStats
	var mallocs uint64
	const coldCalls = 50
	for range coldCalls {
		runtime.GC()
		other()
		runtime.GC()
		other()
		runtime.ReadMemStats(&before)
		call()
		runtime.ReadMemStats(&after)
		mallocs += after.Mallocs - before.Mallocs
	}
	require.Zero(t, mallocs/coldCalls, "allocations per unary exchange after two GC cycles, the network busy")
	require.NoError(t, callErr)

	// Several requests at once: the first round takes what the spares
	// have and makes the rest, whose releases give the spares as many
	// again.
	for range 3 {
		require.NoError(t, finish(open(4, nil, nil)))
	}
	several := func() {
		if err := finish(open(4, cli[:0], srv[:0])); err != nil && callErr == nil {
			callErr = err
		}
	}
	require.Zero(t, testing.AllocsPerRun(200, several), "allocations per four requests at once, warm")
	require.NoError(t, callErr)
}
