package optjoin_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/memory"
	"github.com/microsim/microsim/observe/internal/optjoin"
)

func TestJoinAppliesEveryOptionAndStopsAtTheFirstError(t *testing.T) {
	n := memory.MustNetwork()
	defer n.Close()
	sel, err := selector.New(n.Registry())
	require.NoError(t, err)
	defer sel.Close()
	c, err := client.New(sel, n.Transport(), optjoin.Join(client.WithPoolSize(2), client.WithDefaultTimeout(1)))
	require.NoError(t, err)
	require.NoError(t, c.Close())

	_, err = client.New(sel, n.Transport(), optjoin.Join(client.WithPoolSize(2), client.WithPoolSize(0), client.WithDefaultTimeout(0)))
	assert.ErrorContains(t, err, "pool size must be positive")

	boom := errors.New("boom")
	_, err = client.New(sel, n.Transport(), optjoin.Fail[client.Option](boom))
	assert.ErrorIs(t, err, boom)
}

func TestOfBuildsOrFails(t *testing.T) {
	n := memory.MustNetwork()
	defer n.Close()
	sel, err := selector.New(n.Registry())
	require.NoError(t, err)
	defer sel.Close()
	poolOf := func(size int) client.Option { return client.WithPoolSize(size) }
	c, err := client.New(sel, n.Transport(), optjoin.Of(2, nil, poolOf))
	require.NoError(t, err)
	require.NoError(t, c.Close())
	boom := errors.New("boom")
	_, err = client.New(sel, n.Transport(), optjoin.Of(2, boom, poolOf))
	assert.ErrorIs(t, err, boom)
}
