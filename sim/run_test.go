package sim_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/sim"
)

func TestRunSteadyState(t *testing.T) {
	rep := sim.Run(t, "../scenarios/steady-state.yaml")
	require.NotNil(t, rep)
	_ = rep.WriteText(os.Stdout)
}
