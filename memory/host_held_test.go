package memory_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/microsim/microsim/memory"
)

// The network counts its hosts that are down or paused, which the checks
// on a call's path read instead of the host while the count is 0: every
// transition of a host moves it once, a repeated one not at all.
func TestHeldHostsFollowsTheHosts(t *testing.T) {
	n := memory.MustNetwork()
	a, b := n.Host("a"), n.Host("b")
	steps := []struct {
		name string
		do   func()
		held int64
	}{
		{"both run", func() {}, 0},
		{"a paused", a.Pause, 1},
		{"a paused again", a.Pause, 1},
		{"b crashed", b.Crash, 2},
		{"b paused while down", b.Pause, 2},
		{"a crashed while paused", a.Crash, 2},
		{"a resumed while down", a.Resume, 2},
		{"a crashed again", a.Crash, 2},
		{"a restarted", a.Restart, 1},
		{"a restarted again", a.Restart, 1},
		{"b restarted", b.Restart, 0},
		{"b paused", b.Pause, 1},
		{"b resumed", b.Resume, 0},
		{"b resumed again", b.Resume, 0},
	}
	for _, s := range steps {
		s.do()
		assert.Equal(t, s.held, memory.HeldHosts(n), s.name)
	}
	assert.NoError(t, n.Close())
	assert.Equal(t, int64(2), memory.HeldHosts(n), "closed: both down")
	n.Host("c")
	assert.Equal(t, int64(3), memory.HeldHosts(n), "a host made after Close is born down")
}
