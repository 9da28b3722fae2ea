package consul_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/microsim/microsim/framework/registry/consul/consultest"
)

// agent is the one Consul agent this test binary shares, started by the
// first test that needs it and stopped after the last. Tests use unique
// service names so they do not interfere.
var agent consultest.Agent

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(agent.Wrap(m),
		// freeport (used by testutil to pick the agent's ports) runs a
		// package-level goroutine for the life of the process, with no way
		// to stop it. It is the SDK's, not ours.
		goleak.IgnoreTopFunction("github.com/hashicorp/consul/sdk/freeport.checkFreedPorts"),
	)
}

// consulAddr returns the shared agent's address, or skips the test (fails it
// when MICROSIM_REQUIRE_CONSUL=1) when there is no consul binary.
func consulAddr(t *testing.T) string {
	t.Helper()
	return agent.Addr(t)
}
