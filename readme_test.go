package microsim_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestReadmeQuickstart keeps the README's quickstart identical to
// example_test.go, which go test compiles and runs.
func TestReadmeQuickstart(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	example, err := os.ReadFile("example_test.go")
	require.NoError(t, err)
	require.Contains(t, string(readme), "```go\n"+string(example)+"```",
		"the README's quickstart block must be example_test.go verbatim")
	scenario, err := os.ReadFile("scenario_example_test.go")
	require.NoError(t, err)
	require.Contains(t, string(readme), "```go\n"+string(scenario)+"```",
		"the README's scenario block must be scenario_example_test.go verbatim")
	require.True(t, strings.Contains(string(readme), "make test"))
}
