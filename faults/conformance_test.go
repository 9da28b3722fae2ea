package faults_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/faults"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/transporttest"
	"github.com/microsim/microsim/memory"
)

const suiteMaxMessageSize = 64 << 10

// wrappedSuite runs the transport conformance suite over decorated memory
// transports, with the given link faults in effect.
func wrappedSuite(specs ...faults.LinkFault) transporttest.Suite {
	return transporttest.Suite{
		DelayedSends: len(specs) > 0,
		New: func(t *testing.T) (transport.Transport, transport.Transport, string) {
			n := memory.MustNetwork(memory.WithMaxMessageSize(suiteMaxMessageSize))
			inj := faults.New(1)
			t.Cleanup(func() {
				inj.Close()
				n.Close()
			})
			for i, spec := range specs {
				_, err := inj.Inject(context.Background(), "fault-"+string(rune('a'+i)), spec)
				require.NoError(t, err)
			}
			max := faults.MaxMessageSize(suiteMaxMessageSize)
			return inj.WrapTransport("server", n.Host("server").Transport(), nil, max),
				inj.WrapTransport("client", n.Host("client").Transport(), nil, max), ""
		},
		Synctest:       true,
		MaxMessageSize: suiteMaxMessageSize,
	}
}

// TestWrappedTransportConformance: a decorated transport is still a
// transport: with no fault in effect, and with latency on both directions.
func TestWrappedTransportConformance(t *testing.T) {
	idle := wrappedSuite()
	// With no fault in effect the wrapper costs a call no allocation of
	// its own over the hosts' transports.
	idle.Baseline = func(t *testing.T) (transport.Transport, transport.Transport, string) {
		n := memory.MustNetwork(memory.WithMaxMessageSize(suiteMaxMessageSize))
		t.Cleanup(func() { n.Close() })
		return n.Host("server").Transport(), n.Host("client").Transport(), ""
	}
	t.Run("no faults", idle.Run)
	t.Run("latency", wrappedSuite(faults.LinkFault{Latency: faults.Uniform(0, 2*time.Millisecond)}).Run)
	t.Run("latency and bandwidth", wrappedSuite(
		faults.LinkFault{Latency: faults.Constant(time.Millisecond), Bandwidth: 10 << 20},
		faults.LinkFault{Direction: faults.Replies, Latency: faults.Exponential(time.Millisecond)},
	).Run)
}
