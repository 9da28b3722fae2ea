package memory

import (
	"errors"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/faults"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/transporttest"
)

// bareMemory returns the hosts' own transports, without the pause
// decorator that Host.Transport adds: New of the unwrapped suite, and the
// Baseline of the decorated ones.
func bareMemory(t *testing.T) (transport.Transport, transport.Transport, string) {
	n := MustNetwork(WithMaxMessageSize(64 << 10))
	t.Cleanup(func() { n.Close() })
	return newHostTransport(n.Host("server")), newHostTransport(n.Host("client")), ""
}

// TestDecoratedStackConformance: faults' transport wrapper over a host's
// transport (the pause decorator over the memory transport), with no
// fault in effect and the host running, is the bare memory transport to
// its users: it passes the suite, NotifyRecv, the one-step open and close
// and the message lease included, and costs a unary round trip no more
// allocations (SameCost, against the bare transport).
func TestDecoratedStackConformance(t *testing.T) {
	transporttest.Suite{
		New: func(t *testing.T) (transport.Transport, transport.Transport, string) {
			n := MustNetwork(WithMaxMessageSize(64 << 10))
			inj := faults.New(1)
			t.Cleanup(func() {
				inj.Close()
				n.Close()
			})
			max := faults.MaxMessageSize(64 << 10)
			return inj.WrapTransport("server", n.Host("server").Transport(), nil, max),
				inj.WrapTransport("client", n.Host("client").Transport(), nil, max), ""
		},
		Baseline:       bareMemory,
		Synctest:       true,
		MaxMessageSize: 64 << 10,
	}.Run(t)
}

// TestTransportConformanceUnwrapped runs the suite on the bare transports.
func TestTransportConformanceUnwrapped(t *testing.T) {
	transporttest.Suite{
		New:            bareMemory,
		Synctest:       true,
		MaxMessageSize: 64 << 10,
	}.Run(t)
}

// TestNewStreamQueuesTheMessageFirst: a stream opened with a first message
// holds its (copied) first message when Accept returns it, so a server
// never waits for it: NotifyRecv reports it at once.
func TestNewStreamQueuesTheMessageFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		n := MustNetwork()
		defer n.Close()
		l, err := newHostTransport(n.Host("srv")).Listen("")
		require.NoError(t, err)
		defer l.Close()
		c, err := newHostTransport(n.Host("cli")).Dial(ctx, l.Addr())
		require.NoError(t, err)
		defer c.Close()

		m := &transport.Message{Header: map[string]string{"K": "v"}, Body: []byte("first")}
		cs, err := c.NewStream(ctx, m)
		require.NoError(t, err)
		defer cs.Close()
		m.Header["K"], m.Body[0] = "scribbled", 'X' // the sender's to reuse
		ss, err := rawListener(l).accept(ctx)
		require.NoError(t, err)
		defer ss.Close()
		notified := make(chan error, 1)
		ss.NotifyRecv(func(err error) { notified <- err })
		select {
		case err := <-notified:
			require.NoError(t, err, "a message is waiting")
		default:
			t.Fatal("NotifyRecv was not called at once: the message was not there at Accept")
		}
		got, err := ss.Recv(ctx)
		require.NoError(t, err)
		require.Equal(t, &transport.Message{Header: map[string]string{"K": "v"}, Body: []byte("first")}, got)
	})
}

// A closed connection's errors, made for every stream at once and written
// out only when asked for, say what fmt.Errorf said of them and wrap the
// same sentinels: the client side's ErrClosed and ErrReset, the server
// side's ErrReset, NewStream's ErrClosed.
func TestClosedConnErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := MustNetwork()
		defer n.Close()
		l, err := n.Host("srv").Transport().Listen("")
		require.NoError(t, err)
		defer l.Close()
		tc, err := n.Host("cli").Transport().Dial(t.Context(), l.Addr())
		require.NoError(t, err)
		c := tc.(*pauseConn).Conn.(*conn)
		require.NoError(t, c.Close())
		for _, tc := range []struct {
			got  error
			want error
		}{
			{c.clientErr, fmt.Errorf("memory: connection to %s closed: %w, %w", l.Addr(), transport.ErrClosed, transport.ErrReset)},
			{c.serverErr, fmt.Errorf("memory: connection from %s: %w by peer", c.local, transport.ErrReset)},
			{c.newErr, fmt.Errorf("memory: new stream to %s: %w", l.Addr(), transport.ErrClosed)},
		} {
			require.Equal(t, tc.want.Error(), tc.got.Error())
			for _, s := range []error{transport.ErrClosed, transport.ErrReset, transport.ErrRefused} {
				require.Equal(t, errors.Is(tc.want, s), errors.Is(tc.got, s), "%q is %v", tc.got, s)
			}
		}
		_, err = tc.NewStream(t.Context(), nil)
		require.ErrorIs(t, err, transport.ErrClosed)
	})
}
