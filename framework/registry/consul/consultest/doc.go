// Package consultest runs a real Consul agent for tests: one agent per test
// binary, shared by its tests, started by the first test that asks for it
// and stopped after the last one, before goleak looks for leaks.
//
// The agent is the consul binary on PATH, started on loopback by
// github.com/hashicorp/consul/sdk/testutil (`make test` builds it into bin/
// and puts bin/ on PATH). Without it a test that asks for the agent is
// skipped with SkipMessage, unless the environment variable RequireEnv is
// "1", in which case it fails: `make test` never skips the Consul tests.
//
// Tests that share the agent should use service names no other test of the
// binary uses. Typical use:
//
//	var agent consultest.Agent
//
//	func TestMain(m *testing.M) {
//		goleak.VerifyTestMain(agent.Wrap(m),
//			goleak.IgnoreTopFunction("github.com/hashicorp/consul/sdk/freeport.checkFreedPorts"))
//	}
//
//	func TestSomething(t *testing.T) {
//		addr := agent.Addr(t) // host:port of the agent's HTTP API
//		r, err := consul.New(&api.Config{Address: addr})
//		...
//	}
//
// freeport, which testutil uses to pick the agent's ports, runs a goroutine
// for the life of the process that cannot be stopped; hence the goleak
// option above.
package consultest
