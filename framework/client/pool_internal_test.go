package client

import (
	"context"
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
