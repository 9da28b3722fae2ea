// Package workpool serves a stream of work items on a pool of goroutines
// that outlive each item: the transports' Listener.Serve hands the streams
// that no reading goroutine serves inline to it.
//
// A goroutine that takes an item while no other goroutine waits for the
// next one first starts one, so an item never waits for a goroutine to be
// free; a goroutine that finishes an item while MaxIdle others wait exits.
// So a busy listener starts no goroutine per stream, and its goroutines
// keep the stacks they grew.
package workpool

import "sync"

// MaxIdle is how many goroutines of a pool may wait for an item at once.
const MaxIdle = 64

// Run calls handle for each item next returns, on the calling goroutine
// and goroutines it starts, until next reports false (to every goroutine
// that waits in it: next reports false for good once it has). It returns
// once every goroutine it started has returned, and so every handle call.
// next blocks until an item comes or the source ends.
func Run[T any](next func() (T, bool), handle func(T)) {
	p := &pool[T]{next: next, handle: handle, waiting: 1}
	p.wg.Add(1)
	p.work()
	p.wg.Wait()
}

type pool[T any] struct {
	next   func() (T, bool)
	handle func(T)
	wg     sync.WaitGroup

	mu      sync.Mutex
	waiting int  // goroutines in (or about to call) next
	ended   bool // next reported false
}

// work is one goroutine of the pool.
func (p *pool[T]) work() {
	defer p.wg.Done()
	for {
		v, ok := p.next()
		p.mu.Lock()
		p.waiting--
		if !ok {
			p.ended = true
			p.mu.Unlock()
			return
		}
		if p.waiting == 0 && !p.ended {
			p.waiting++
			p.wg.Add(1)
			go p.work()
		}
		p.mu.Unlock()
		p.handle(v)
		p.mu.Lock()
		if p.ended || p.waiting >= MaxIdle {
			p.mu.Unlock()
			return
		}
		p.waiting++
		p.mu.Unlock()
	}
}
