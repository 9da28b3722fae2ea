package microsim_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/scenario"
)

// The scenario sizes the world, drives the load, crashes an instance and
// says what must hold; the test supplies the service: Greeter, above.
const greeterScenario = `
name: greeter-crash
duration: 20s
topology:
  services:
    - name: greeter
      implementation: go          # the handlers come from the test
      instances: 3
      endpoints: [{name: Greeter.Hello, latency: 5ms}]
workloads:
  - {service: greeter, endpoint: Greeter.Hello, request: '{"Name": "sim"}', rate: 100}
faults:
  - {name: crash, at: 5s, for: 5s, crash: {target: {service: greeter, instance: 0}}}
assertions:
  - success_rate: {min: 1}
  - retries: {max_per_call: 0.05}
`

// Greeter inside a scenario, in virtual time: 20 seconds of traffic and
// a crash in a few milliseconds of wall time.
func TestGreeterScenario(t *testing.T) {
	sc, err := scenario.Parse("greeter.yaml", []byte(greeterScenario))
	require.NoError(t, err)
	rep := sim.Run(t, sc, sim.WithService("greeter", func(client.Client) any { return Greeter{} }))
	require.NotNil(t, rep) // Run has failed t if an assertion did not hold
	require.Positive(t, rep.Totals.Retries, "the crashed instance's refusals were retried")
}
