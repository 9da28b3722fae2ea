package tcp_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/tcp"
	"github.com/microsim/microsim/framework/transport/transporttest"
)

func TestConformance(t *testing.T) {
	transporttest.Suite{
		New: func(t *testing.T) (transport.Transport, transport.Transport, string) {
			tr, err := tcp.New()
			require.NoError(t, err)
			t.Cleanup(func() { tr.Close() })
			return tr, tr, "127.0.0.1:0"
		},
		MaxMessageSize: transport.DefaultMaxMessageSize,
	}.Run(t)
}

// TestConformanceSmallWindow runs the suite with a small message limit, a
// one-message window and separate dialling and listening transports.
func TestConformanceSmallWindow(t *testing.T) {
	const max = 64 << 10
	transporttest.Suite{
		New: func(t *testing.T) (transport.Transport, transport.Transport, string) {
			l, err := tcp.New(tcp.WithMaxMessageSize(max), tcp.WithStreamWindow(1))
			require.NoError(t, err)
			d, err := tcp.New(tcp.WithMaxMessageSize(max), tcp.WithStreamWindow(1))
			require.NoError(t, err)
			t.Cleanup(func() { d.Close(); l.Close() })
			return l, d, "127.0.0.1:0"
		},
		MaxMessageSize: max,
	}.Run(t)
}
