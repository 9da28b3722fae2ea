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
// two calls (as most of a large world's do; here, two GC cycles, which
// empty every sync.Pool) copies the next call's request and reply into
// its last call's, as a busy one does, on the stream its last call
// recycled: a unary exchange allocates nothing, cold or warm, but for its
// pair of sockets, made slab.Size pairs at a time (which
// testing.AllocsPerRun's whole-number average leaves out). A connection that carried several messages a way at once
// uses the free pools (pooled) until a pool comes back empty, then the
// spare slots again. Allocation counts mean nothing under the race
// detector (sync.Pool drops items at random there), so this file is built
// without it (`make allocs`).
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
	c := tc.(*pauseConn).Conn.(*conn)

	body := bytes.Repeat([]byte{'x'}, 1<<10)
	req := &transport.Message{Header: map[string]string{
		"Micro-Service": "echo", "Micro-Endpoint": "Echo.Echo",
		"Content-Type": "application/protobuf", "Micro-Timeout": "5s",
	}, Body: body}
	reply := &transport.Message{Header: map[string]string{"Content-Type": "application/protobuf"}, Body: body}

	// open opens k streams with req before the server takes any (k
	// requests on their way at once) and returns both ends of each.
	open := func(k int) (cli, srv []transport.Socket) {
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
	cli, srv := make([]transport.Socket, 0, 2), make([]transport.Socket, 0, 2)
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
	cold := func() {
		runtime.GC() // the pools' items move to their victim caches
		runtime.GC() // and are dropped
		call()
	}

	require.Zero(t, testing.AllocsPerRun(200, call), "allocations per unary exchange, warm")
	require.False(t, c.pooled.Load(), "one call at a time: the spare slots")
	require.Zero(t, testing.AllocsPerRun(50, cold), "allocations per unary exchange after two GC cycles")
	require.NoError(t, callErr)

	// Several requests at once: a copy finds the slot empty, and the
	// connection's copies use the pools from then on. (The pools are empty
	// at first, everything being in the slots: a copy that finds one empty
	// takes the slots again, until the pools have what the streams gave
	// back.)
	for range 3 {
		require.NoError(t, finish(open(4)))
	}
	require.True(t, c.pooled.Load(), "several messages a way at once: the pools")
	require.Zero(t, testing.AllocsPerRun(200, call), "allocations per unary exchange, warm, pooled")
	require.True(t, c.pooled.Load(), "the pools had what the copies needed")
	// AllocsPerRun's warm-up call finds the pools empty and allocates:
	// the connection takes its slots again, and the calls after allocate
	// nothing.
	require.Zero(t, testing.AllocsPerRun(50, cold), "allocations per unary exchange after two GC cycles, once the pools came back empty")
	require.False(t, c.pooled.Load(), "a pool came back empty: the spare slots again")
	require.NoError(t, callErr)
}
