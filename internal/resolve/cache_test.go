package resolve_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/internal/resolve"
	"github.com/microsim/microsim/memory"
)

// counting counts GetService calls.
type counting struct {
	registry.Registry
	gets atomic.Int64
}

func (c *counting) GetService(ctx context.Context, name string) ([]*registry.Service, error) {
	c.gets.Add(1)
	return c.Registry.GetService(ctx, name)
}

func TestCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := memory.MustNetwork()
		defer net.Close()
		reg := &counting{Registry: net.Registry()}
		c := resolve.NewCache(reg, time.Second)
		register(t, net.Registry(), "greeter", "Greeter.Hello")

		for range 10 {
			tg, err := resolve.Endpoint(t.Context(), c, "greeter", "hello")
			require.NoError(t, err)
			require.Equal(t, "Greeter.Hello", tg.Endpoint)
		}
		require.Equal(t, int64(1), reg.gets.Load(), "ten lookups within the TTL ask once")
		time.Sleep(time.Second)
		_, err := resolve.Endpoint(t.Context(), c, "greeter", "hello")
		require.NoError(t, err)
		require.Equal(t, int64(2), reg.gets.Load(), "after the TTL it asks again")

		for range 3 {
			_, err := resolve.Endpoint(t.Context(), c, "orders", "list")
			require.ErrorIs(t, err, resolve.ErrServiceNotFound)
		}
		require.Equal(t, int64(5), reg.gets.Load(), "a miss is not cached")
		register(t, net.Registry(), "orders", "Orders.List")
		_, err = resolve.Endpoint(t.Context(), c, "orders", "list")
		require.NoError(t, err, "a service that registers is seen at once")
	})
}
