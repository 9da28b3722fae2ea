package client

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/memory"
)

// TestPoolLetsGoOfClosedRetiredConns: a retired connection (its server
// refused new streams) stays open while it may still carry streams, and is
// let go of once its peer has closed it, so a long-lived client does not
// collect one per server restart.
func TestPoolLetsGoOfClosedRetiredConns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		n := memory.MustNetwork()
		defer n.Close()
		srv, cli := n.Host("srv"), n.Host("cli")
		listen := func() transport.Listener {
			l, err := srv.Transport().Listen("srv:1")
			require.NoError(t, err)
			return l
		}
		l := listen()
		p := newPool(cli.Transport(), 1)
		defer p.close()

		c1, err := p.get(ctx, "srv:1")
		require.NoError(t, err)
		p.retire("srv:1", c1)
		require.Equal(t, []transport.Conn{c1}, p.retired)

		srv.Crash() // the peer is gone: c1 is reset
		srv.Restart()
		_ = l.Close()
		l = listen()
		defer l.Close()
		c2, err := p.get(ctx, "srv:1")
		require.NoError(t, err)
		require.NotSame(t, c1, c2)
		p.retire("srv:1", c2)
		require.Equal(t, []transport.Conn{c2}, p.retired, "the closed c1 was let go of, the live c2 kept")

		c3, err := p.get(ctx, "srv:1")
		require.NoError(t, err)
		p.retire("srv:1", c3)
		require.Equal(t, []transport.Conn{c2, c3}, p.retired, "live retired connections stay until the pool closes")
	})
}

// TestPoolSnapshot: connections dialled since the lock-free snapshot are
// found under the lock, and the snapshot catches up with them after a
// number of such lookups proportional to its size, so every address ends
// up served without the lock; a dropped connection leaves it at once.
func TestPoolSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		n := memory.MustNetwork()
		defer n.Close()
		const addrs = 100
		for i := range addrs {
			_, err := n.Host(fmt.Sprintf("srv-%d", i)).Transport().Listen(fmt.Sprintf("srv-%d:1", i))
			require.NoError(t, err)
		}
		p := newPool(n.Host("cli").Transport(), 1)
		defer p.close()
		first := map[string]transport.Conn{}
		for i := range addrs {
			addr := fmt.Sprintf("srv-%d:1", i)
			c, err := p.get(ctx, addr)
			require.NoError(t, err)
			first[addr] = c
		}
		require.Less(t, len(*p.full.Load()), addrs, "the last dials wait for the next snapshot")
		lookups := 0
		for len(*p.full.Load()) < addrs && lookups <= addrs {
			for addr, c := range first {
				if _, ok := (*p.full.Load())[addr]; ok {
					continue
				}
				got, err := p.get(ctx, addr)
				require.NoError(t, err)
				require.Same(t, c, got, "the connection dialled")
				lookups++
			}
		}
		require.Len(t, *p.full.Load(), addrs, "every address ends up in the snapshot")
		require.LessOrEqual(t, lookups, addrs/4+1, "after at most a quarter of the snapshot's size in lookups under the lock")

		p.retire("srv-7:1", first["srv-7:1"])
		require.NotContains(t, *p.full.Load(), "srv-7:1", "a dropped connection leaves the snapshot at once")
		c, err := p.get(ctx, "srv-7:1")
		require.NoError(t, err)
		require.NotSame(t, first["srv-7:1"], c, "a new connection is dialled")
	})
}
