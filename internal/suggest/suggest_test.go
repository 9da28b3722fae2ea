package suggest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClosest(t *testing.T) {
	known := []string{"greeter", "orders", "payments", "inventory", "greeter-v2", "gateway"}
	require.Equal(t, []string{"greeter", "greeter-v2"}, Closest("greter", known, 3))
	require.Equal(t, []string{"orders"}, Closest("Orders", known, 3))
	require.Equal(t, []string{"payments"}, Closest("payment", known, 3))
	require.Equal(t, []string{"inventory"}, Closest("inv", known, 3))
	require.Empty(t, Closest("zzzzzz", known, 3))
	require.Len(t, Closest("g", []string{"a", "b", "c", "d"}, 2), 2, "short names: at most max")
	require.Empty(t, Closest("x", nil, 3))
}

func TestDistance(t *testing.T) {
	require.Equal(t, 0, Distance("abc", "abc"))
	require.Equal(t, 1, Distance("greter", "greeter"))
	require.Equal(t, 3, Distance("kitten", "sitting"))
	require.Equal(t, 256, Distance(strings.Repeat("a", 10000), ""), "bounded by 256 bytes")
}
