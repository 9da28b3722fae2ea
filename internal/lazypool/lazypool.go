// Package lazypool is a sync.Pool that a Get does not ask while it is
// known to be empty. A sync.Pool's first use on a processor allocates its
// storage for every processor (and registers the pool with the runtime),
// and the GC empties a pool and drops that storage at every cycle, so a
// Get from a pool that was never given anything, or that the GC emptied,
// pays for an allocation, or for memory out of the CPU's cache, to find
// nothing. The servers and connections of a large simulated world, each
// used now and then and mostly one call at a time, have such pools.
package lazypool

import (
	"sync"
	"sync/atomic"
)

// Pool is a sync.Pool that Get leaves alone from the time a Get found it
// empty, or from its start, until the next Put. Its zero value is ready
// to use, and empty; it must not be copied after first use.
type Pool struct {
	// given is set by a Put and cleared by a Get that found nothing: read
	// by every Get, written seldom.
	given atomic.Bool
	p     sync.Pool
}

// Get returns a value that was Put, or nil.
func (p *Pool) Get() any {
	if !p.given.Load() {
		return nil
	}
	x := p.p.Get()
	if x == nil {
		p.given.Store(false)
	}
	return x
}

// Put keeps x for a later Get.
func (p *Pool) Put(x any) {
	p.p.Put(x)
	if !p.given.Load() {
		p.given.Store(true)
	}
}
