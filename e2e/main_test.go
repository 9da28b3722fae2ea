package e2e_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/microsim/microsim/framework/registry/consul/consultest"
)

// agent is the Consul agent the tests of this binary share; the first test
// that needs it starts it, and it is stopped after the last test, before
// goleak looks for leaked goroutines.
var agent consultest.Agent

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(agent.Wrap(m),
		// freeport (used by Consul's testutil to pick the agent's ports)
		// runs a package-level goroutine for the life of the process, with
		// no way to stop it. It is the SDK's, not ours.
		goleak.IgnoreTopFunction("github.com/hashicorp/consul/sdk/freeport.checkFreedPorts"),
	)
}
