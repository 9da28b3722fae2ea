package nats_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/broker/brokertest"
	"github.com/microsim/microsim/framework/broker/nats"
)

// TestConformance runs the broker suite in real time: each subtest gets an
// embedded server of its own, and each client is a connection to it.
func TestConformance(t *testing.T) {
	t.Parallel()
	brokertest.Suite{
		New: func(t *testing.T) func() broker.Broker {
			srv := startServer(t)
			return func() broker.Broker {
				b, err := nats.New(t.Context(), srv.url())
				require.NoError(t, err)
				return b
			}
		},
		Wait: 10 * time.Second,
	}.Run(t)
}
