package selector_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
)

func TestPickUseAfterReleaseIsDetected(t *testing.T) {
	reg := newFakeRegistry()
	register(t, reg, service("svc", "v1", nodes("n", 3)...))
	s := newSelector(t, reg)
	ctx := context.Background()

	p, err := s.Select(ctx, "svc")
	require.NoError(t, err)
	cp := p // a copy shares the fate of the original
	_, err = p.Next()
	require.NoError(t, err)
	p.Release()
	_, err = p.Next()
	require.ErrorIs(t, err, selector.ErrReleased)
	_, err = cp.Next()
	require.ErrorIs(t, err, selector.ErrReleased)
	cp.Release() // a second Release does nothing
	p.Release()

	// The released state may now serve another call: the stale handle
	// must neither reach it nor release it.
	for range 100 {
		q, err := s.Select(ctx, "svc")
		require.NoError(t, err)
		_, err = p.Next()
		require.ErrorIs(t, err, selector.ErrReleased)
		p.Release()
		got, err := drain(q)
		require.ErrorIs(t, err, selector.ErrNoneAvailable)
		assert.Len(t, got, 3, "the new call still has every node")
		q.Release()
	}

	var zero selector.Pick
	_, err = zero.Next()
	require.ErrorIs(t, err, selector.ErrReleased)
	zero.Release()
}

func TestPickNextIsSafeForConcurrentUse(t *testing.T) {
	reg := newFakeRegistry()
	register(t, reg, service("svc", "v1", nodes("n", 200)...))
	s := newSelector(t, reg)
	p, err := s.Select(context.Background(), "svc")
	require.NoError(t, err)
	defer p.Release()
	var (
		mu   sync.Mutex
		seen = make(map[string]int)
		wg   sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for {
				n, err := p.Next()
				if err != nil {
					assert.ErrorIs(t, err, selector.ErrNoneAvailable)
					return
				}
				mu.Lock()
				seen[n.ID]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Len(t, seen, 200)
	for id, k := range seen {
		assert.Equal(t, 1, k, "node %s handed out more than once", id)
	}
}

// countingPicker hands out one node and counts its Releases.
type countingPicker struct {
	node     *registry.Node
	given    bool
	released int
}

func (c *countingPicker) Next() (*registry.Node, error) {
	if c.given {
		return nil, selector.ErrNoneAvailable
	}
	c.given = true
	return c.node, nil
}

func (c *countingPicker) Release() { c.released++ }

func TestNewPick(t *testing.T) {
	cp := &countingPicker{node: nodes("n", 1)[0]}
	p := selector.NewPick(cp)
	n, err := p.Next()
	require.NoError(t, err)
	assert.Equal(t, "n-0000", n.ID)
	_, err = p.Next()
	require.ErrorIs(t, err, selector.ErrNoneAvailable)
	p.Release()
	p.Release()
	assert.Equal(t, 1, cp.released, "the Picker is released once")
	_, err = p.Next()
	require.ErrorIs(t, err, selector.ErrReleased)

	calls := 0
	f := selector.PickerFunc(func() (*registry.Node, error) { calls++; return cp.node, nil })
	q := selector.NewPick(f)
	_, err = q.Next()
	require.NoError(t, err)
	q.Release()
	assert.Equal(t, 1, calls)
}
