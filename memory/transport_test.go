package memory_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/transporttest"
	"github.com/microsim/microsim/memory"
)

const suiteMaxMessageSize = 64 << 10

func TestTransportConformance(t *testing.T) {
	transporttest.Suite{
		New: func(t *testing.T) (transport.Transport, transport.Transport, string) {
			n := memory.MustNetwork(memory.WithMaxMessageSize(suiteMaxMessageSize))
			t.Cleanup(func() { n.Close() })
			return n.Host("server").Transport(), n.Host("client").Transport(), ""
		},
		Synctest:       true,
		MaxMessageSize: suiteMaxMessageSize,
	}.Run(t)
}

// TestTransportConformanceTinyBuffers runs the suite on one host with the
// smallest buffers, where every Send beyond the first waits for the peer.
func TestTransportConformanceTinyBuffers(t *testing.T) {
	transporttest.Suite{
		New: func(t *testing.T) (transport.Transport, transport.Transport, string) {
			n := memory.MustNetwork(memory.WithMaxMessageSize(suiteMaxMessageSize),
				memory.WithStreamBuffer(1), memory.WithAcceptBacklog(4))
			t.Cleanup(func() { n.Close() })
			return n.Transport(), n.Transport(), memory.DefaultHost + ":0"
		},
		Synctest:       true,
		MaxMessageSize: suiteMaxMessageSize,
	}.Run(t)
}

// TestTransportConformanceRealTime runs the suite outside a bubble, as a
// network transport runs it: the memory transport works in real time too.
func TestTransportConformanceRealTime(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time timeouts")
	}
	transporttest.Suite{
		New: func(t *testing.T) (transport.Transport, transport.Transport, string) {
			n := memory.MustNetwork(memory.WithMaxMessageSize(suiteMaxMessageSize))
			t.Cleanup(func() { n.Close() })
			return n.Host("server").Transport(), n.Host("client").Transport(), "server:0"
		},
		MaxMessageSize: suiteMaxMessageSize,
	}.Run(t)
}

// testCtx is the bound on a whole memory test: a hang fails in virtual time.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// listenDial is a listener on host "srv" of n and a connection to it from
// host "cli"; both end with n.
func listenDial(t *testing.T, ctx context.Context, n *memory.Network) (transport.Listener, transport.Conn) {
	t.Helper()
	l, err := n.Host("srv").Transport().Listen("")
	require.NoError(t, err)
	c, err := n.Host("cli").Transport().Dial(ctx, l.Addr())
	require.NoError(t, err)
	return l, c
}

// streamPair is a listener on srv at addr, a connection from cli and one
// accepted stream; all closed when the test ends.
func streamPair(t *testing.T, srv, cli *memory.Host, addr string) (transport.Listener, transport.Conn, transport.Socket, transport.Socket) {
	t.Helper()
	ctx := testCtx(t)
	l, err := srv.Transport().Listen(addr)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	c, err := cli.Transport().Dial(ctx, l.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	cs, err := c.NewStream(ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() { cs.Close() })
	ss, err := memory.AcceptOne(ctx, l)
	require.NoError(t, err)
	t.Cleanup(func() { ss.Close() })
	return l, c, cs, ss
}

func msg(i int) *transport.Message {
	return &transport.Message{Header: map[string]string{"Seq": fmt.Sprint(i)}, Body: []byte(fmt.Sprintf("message %d", i))}
}

// requireMsg receives from s and checks it is msg(i).
func requireMsg(t *testing.T, ctx context.Context, s transport.Socket, i int) {
	t.Helper()
	m, err := s.Recv(ctx)
	require.NoError(t, err)
	require.Equal(t, msg(i), m)
}

func TestListenAddresses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memory.MustNetwork()
		defer n.Close()
		tr := n.Host("a").Transport()
		var got []string
		for _, addr := range []string{"", "a:0", ":0", "a:80", ":81", "a:49155", ""} {
			l, err := tr.Listen(addr)
			require.NoError(t, err, "Listen(%q)", addr)
			defer l.Close()
			got = append(got, l.Addr())
		}
		require.Equal(t, []string{"a:49152", "a:49153", "a:49154", "a:80", "a:81", "a:49155", "a:49156"}, got,
			"free ports count up and skip bound ones")

		_, err := tr.Listen("a:80")
		require.ErrorContains(t, err, "a:80")
		require.ErrorContains(t, err, "in use")
		_, err = tr.Listen("b:80")
		require.ErrorContains(t, err, "b:80")
		for _, bad := range []string{"a", "a:", "a:x", "a:-1", "a:+1", "a:65536", "a:123456", "a:1:2", "a: 1"} {
			_, err := tr.Listen(bad)
			require.Error(t, err, "Listen(%q)", bad)
			require.ErrorContains(t, err, fmt.Sprintf("%q", bad))
			_, err = tr.Dial(t.Context(), bad)
			require.Error(t, err, "Dial(%q)", bad)
			require.NotErrorIs(t, err, transport.ErrRefused, "Dial(%q) is a caller's mistake, not a refusal", bad)
		}
		_, err = tr.Dial(t.Context(), "a:0")
		require.Error(t, err)
		_, err = tr.Dial(t.Context(), "nosuchhost:80")
		require.ErrorIs(t, err, transport.ErrRefused)
		_, err = tr.Dial(t.Context(), "a:82")
		require.ErrorIs(t, err, transport.ErrRefused)
		require.ErrorContains(t, err, "a:82")

		c, err := tr.Dial(t.Context(), ":80")
		require.NoError(t, err, "an empty host is the dialling host")
		defer c.Close()
		require.Equal(t, "a:80", c.RemoteAddr())
	})
}

func TestRemoteAddrNamesDiallingHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memory.MustNetwork()
		defer n.Close()
		l, c, cs, ss := streamPair(t, n.Host("srv"), n.Host("cli"), "srv:80")
		require.Equal(t, "srv:80", l.Addr())
		require.Equal(t, "srv:80", c.RemoteAddr())
		require.Equal(t, "srv:80", cs.RemoteAddr())
		host, port, ok := strings.Cut(ss.RemoteAddr(), ":")
		require.True(t, ok, ss.RemoteAddr())
		require.Equal(t, "cli", host)
		require.NotEmpty(t, port)
	})
}

// TestNetworksIsolated binds the same address in two networks: each dial
// reaches its own network's listener only.
func TestNetworksIsolated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		var ls [2]transport.Listener
		var nets [2]*memory.Network
		for i := range nets {
			nets[i] = memory.MustNetwork()
			defer nets[i].Close()
			l, err := nets[i].Host("a").Transport().Listen("a:80")
			require.NoError(t, err, "network %d", i)
			ls[i] = l
		}
		for i, n := range nets {
			c, err := n.Host("b").Transport().Dial(ctx, "a:80")
			require.NoError(t, err)
			defer c.Close()
			cs, err := c.NewStream(ctx, nil)
			require.NoError(t, err)
			defer cs.Close()
			require.NoError(t, cs.Send(ctx, msg(i)))

			ss, err := memory.AcceptOne(ctx, ls[i])
			require.NoError(t, err, "network %d's own listener", i)
			requireMsg(t, ctx, ss, i)
			short, cancel := context.WithTimeout(ctx, time.Second)
			_, err = memory.AcceptOne(short, ls[1-i])
			cancel()
			require.ErrorIs(t, err, context.DeadlineExceeded, "the other network's listener sees nothing")
		}

		nets[0].Host("a").Crash()
		_, err := nets[1].Host("b").Transport().Dial(ctx, "a:80")
		require.NoError(t, err, "a crash in one network leaves the other alone")
		_, err = nets[0].Host("b").Transport().Dial(ctx, "a:80")
		require.ErrorIs(t, err, transport.ErrRefused)
	})
}
