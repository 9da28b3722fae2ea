package selector

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/microsim/microsim/framework/registry"
)

// exhausted is the error of a Next whose nodes have all been tried.
func exhausted(service string, n int) error {
	if n == 0 {
		return fmt.Errorf("%w: service %q has no nodes", ErrNoneAvailable, service)
	}
	return fmt.Errorf("%w: service %q: all %d nodes tried", ErrNoneAvailable, service, n)
}

func compareNodes(a, b *registry.Node) int { return cmp.Compare(a.ID, b.ID) }

// triedSet records which node indexes a call has tried. Up to 64 nodes it
// lives in a word; beyond, a bitmap is used from the second attempt on, so
// a call that succeeds first time touches no bitmap. reset keeps the
// bitmap's memory, so a recycled Picker allocates it at most once.
type triedSet struct {
	n     int // number of nodes
	count int // number tried
	first int // the first index tried, while big is not in use
	small uint64
	big   []uint64 // in use when len(big) > 0
}

// reset empties t for a call over n nodes.
func (t *triedSet) reset(n int) {
	*t = triedSet{n: n, big: t.big[:0]}
}

func (t *triedSet) has(i int) bool {
	switch {
	case t.n <= 64:
		return t.small&(1<<uint(i)) != 0
	case len(t.big) == 0:
		return t.count > 0 && t.first == i
	}
	return t.big[i/64]&(1<<uint(i%64)) != 0
}

func (t *triedSet) add(i int) {
	t.count++
	switch {
	case t.n <= 64:
		t.small |= 1 << uint(i)
		return
	case t.count == 1:
		t.first = i
		return
	case len(t.big) == 0:
		words := (t.n + 63) / 64
		if cap(t.big) >= words {
			t.big = t.big[:words]
			clear(t.big)
		} else {
			t.big = make([]uint64, words)
		}
		t.big[t.first/64] |= 1 << uint(t.first%64)
	}
	t.big[i/64] |= 1 << uint(i%64)
}

// remove undoes add(i), which must have been the last add.
func (t *triedSet) remove(i int) {
	t.count--
	switch {
	case t.n <= 64:
		t.small &^= 1 << uint(i)
	case len(t.big) > 0:
		t.big[i/64] &^= 1 << uint(i%64)
	}
}

// pickerPool recycles a strategy's Pickers, so that a pick allocates
// nothing in steady state. Its zero value is ready.
type pickerPool[T any] struct{ p sync.Pool }

// get returns a recycled *T, or a new one.
func (p *pickerPool[T]) get() *T {
	if v, ok := p.p.Get().(*T); ok {
		return v
	}
	return new(T)
}

// put recycles v, which its user has released.
func (p *pickerPool[T]) put(v *T) { p.p.Put(v) }

// lockedRand is a *rand.Rand behind a mutex, so that a strategy's seeded
// source can serve concurrent calls. The order in which concurrent calls
// draw is up to the scheduler; a single caller's sequence is reproducible.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newLockedRand(r *rand.Rand) *lockedRand {
	if r == nil {
		r = cryptoSeeded()
	}
	return &lockedRand{r: r}
}

// intN returns a uniform int in [0, n); n must be positive.
func (l *lockedRand) intN(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}

// pair returns two distinct uniform ints in [0, n); n must be at least 2.
func (l *lockedRand) pair(n int) (int, int) {
	l.mu.Lock()
	i, j := l.r.IntN(n), l.r.IntN(n-1)
	l.mu.Unlock()
	if j >= i {
		j++
	}
	return i, j
}

// untried returns a uniform index among the indexes of [0, t.n) that t does
// not hold; at least one must be left. The first attempt of a call costs
// one draw. A retry draws up to a few times and then falls back to finding
// the k-th untried index, so it costs O(1) expected while most nodes are
// untried and O(n) at worst.
func untried(r *lockedRand, t *triedSet) int {
	left := t.n - t.count
	if t.count == 0 {
		return r.intN(t.n)
	}
	if left*4 >= t.n {
		for range 8 {
			if i := r.intN(t.n); !t.has(i) {
				return i
			}
		}
	}
	k := r.intN(left)
	for i := range t.n {
		if t.has(i) {
			continue
		}
		if k == 0 {
			return i
		}
		k--
	}
	panic("selector: untried called with every node tried")
}

// untriedPair returns two distinct untried indexes for a power-of-two-
// choices pick, or one (second == -1) when only one node is left.
func untriedPair(r *lockedRand, t *triedSet) (int, int) {
	left := t.n - t.count
	switch {
	case left == 1:
		return untried(r, t), -1
	case t.count == 0:
		return r.pair(t.n)
	}
	i := untried(r, t)
	t.add(i) // so that the second draw differs; undone below
	j := untried(r, t)
	t.remove(i)
	return i, j
}

// perService is a map from service name to the per-service state of a
// strategy, created on first use.
type perService[T any] struct {
	mu sync.RWMutex
	m  map[string]*T
}

func (p *perService[T]) get(service string) *T {
	p.mu.RLock()
	v := p.m[service]
	p.mu.RUnlock()
	if v != nil {
		return v
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if v = p.m[service]; v == nil {
		if p.m == nil {
			p.m = make(map[string]*T)
		}
		v = new(T)
		p.m[service] = v
	}
	return v
}
