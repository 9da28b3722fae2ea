package resolve

import (
	"context"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/registry"
)

// maxCached bounds the services a Cache holds; past it the cache starts
// over (a gateway sees a bounded set of services; a scan of made-up names
// is not cached at all, see GetService).
const maxCached = 1024

// Cache is a Lookup that remembers each service the registry found for a
// while, so that a gateway does not ask the registry on every request. A
// service that was not found, and the listing of all services (used only
// to explain a miss), are never cached: a service that registers is seen at
// once. It is safe for concurrent use.
type Cache struct {
	reg registry.Registry
	ttl time.Duration

	mu sync.Mutex
	m  map[string]cached
}

type cached struct {
	svcs    []*registry.Service
	expires time.Time
}

// NewCache returns a cache of reg's services that keeps each for ttl.
func NewCache(reg registry.Registry, ttl time.Duration) *Cache {
	return &Cache{reg: reg, ttl: ttl, m: map[string]cached{}}
}

// GetService returns the named service's versions, from the cache when it
// was fetched less than the TTL ago. The result is the caller's to keep but
// not to change (it is shared).
func (c *Cache) GetService(ctx context.Context, name string) ([]*registry.Service, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[name]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.svcs, nil
	}
	svcs, err := c.reg.GetService(ctx, name)
	if err != nil || len(svcs) == 0 {
		return svcs, err
	}
	c.mu.Lock()
	if len(c.m) >= maxCached {
		c.m = map[string]cached{}
	}
	c.m[name] = cached{svcs: svcs, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return svcs, nil
}

// ListServices asks the registry.
func (c *Cache) ListServices(ctx context.Context) ([]*registry.Service, error) {
	return c.reg.ListServices(ctx)
}
