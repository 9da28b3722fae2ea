package consul_test

import (
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/registry/consul"
	"github.com/microsim/microsim/framework/registry/registrytest"
)

// TestConformance runs the registry suite in real time against the shared
// agent, one registry per subtest.
func TestConformance(t *testing.T) {
	t.Parallel()
	addr := consulAddr(t)
	registrytest.Suite{
		New: func(t *testing.T) registry.Registry {
			r, err := consul.New(&api.Config{Address: addr})
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, r.Close()) })
			return r
		},
		TTL:  500 * time.Millisecond,
		Wait: 10 * time.Second,
	}.Run(t)
}
