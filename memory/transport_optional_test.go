package memory

import (
	"testing"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/transporttest"
)

// TestTransportConformanceUnwrapped runs the suite on the hosts' own
// transports, without the pause decorator that Host.Transport adds (which
// hides the optional transport.RecvNotifier), so that its subtest runs.
func TestTransportConformanceUnwrapped(t *testing.T) {
	transporttest.Suite{
		New: func(t *testing.T) (transport.Transport, transport.Transport, string) {
			n := MustNetwork(WithMaxMessageSize(64 << 10))
			t.Cleanup(func() { n.Close() })
			return newHostTransport(n.Host("server")), newHostTransport(n.Host("client")), ""
		},
		Synctest:       true,
		MaxMessageSize: 64 << 10,
	}.Run(t)
}
