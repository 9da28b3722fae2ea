package consultest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/consul/sdk/testutil"
)

// SkipMessage is how a test explains that it was skipped for want of a
// consul binary.
const SkipMessage = "consul not on PATH; run `make test` (builds it into bin/) or put consul on PATH"

// RequireEnv names the environment variable that, set to "1", turns the
// skip for want of a consul binary into a failure.
const RequireEnv = "MICROSIM_REQUIRE_CONSUL"

// readyTimeout bounds how long a started agent may take to elect itself
// leader and sync its own node.
const readyTimeout = 30 * time.Second

var errNoConsul = errors.New(SkipMessage)

// Agent is a Consul agent shared by the tests of one test binary. The zero
// value is ready to use; declare one package-level Agent in the test
// package, have TestMain run the tests through Wrap, and call Addr from the
// tests that need the agent. It is safe for concurrent use.
type Agent struct {
	once  sync.Once
	ended bool     // set (inside once) by Wrap's Run: no agent may start any more
	tb    *agentTB // the agent's TestingTB; nil when none was started
	addr  string   // host:port of its HTTP API
	err   error    // why there is no agent
	stop  func()
}

// Addr returns the host:port of the agent's HTTP API, starting the agent on
// the first call (which blocks until it is ready, up to 30 s). Without a
// consul binary on PATH it skips t with SkipMessage, or fails it when
// RequireEnv is "1"; when the agent fails to start, or Addr is called after
// Wrap's tests have run, it fails t.
func (a *Agent) Addr(t testing.TB) string {
	t.Helper()
	a.once.Do(a.start)
	switch {
	case a.ended && a.tb == nil:
		t.Fatal("consultest: consul agent requested after the tests ended")
	case errors.Is(a.err, errNoConsul) && os.Getenv(RequireEnv) == "1":
		t.Fatal(RequireEnv + "=1 but " + SkipMessage)
	case errors.Is(a.err, errNoConsul):
		t.Skip(SkipMessage)
	case a.err != nil:
		t.Fatalf("consultest: consul agent: %v", a.err)
	}
	return a.addr
}

// TestingM is what TestMain runs: *testing.M, or what goleak.VerifyTestMain
// takes.
type TestingM interface {
	Run() int
}

// Wrap returns m with the agent's shutdown after the tests: its Run runs
// m's tests, then stops the agent if one was started (and writes the
// agent's log to stdout if the tests failed) and returns m's exit code.
// Pass it to goleak.VerifyTestMain, or call its Run from TestMain.
func (a *Agent) Wrap(m TestingM) TestingM { return wrapped{m: m, a: a} }

type wrapped struct {
	m TestingM
	a *Agent
}

func (w wrapped) Run() int {
	code := w.m.Run()
	w.a.once.Do(func() { w.a.ended = true })
	if tb := w.a.tb; tb != nil {
		w.a.stop()
		tb.runCleanups()
		if code != 0 || tb.Failed() {
			os.Stdout.Write(tb.log.Bytes())
		}
	}
	return code
}

// start starts an agent on loopback if consul is on PATH; it runs once.
func (a *Agent) start() {
	if _, err := exec.LookPath("consul"); err != nil {
		a.err = errNoConsul
		return
	}
	tb := &agentTB{name: "consul-agent"}
	a.tb, a.stop = tb, func() {}
	var srv *testutil.TestServer
	err := tb.run(func() {
		var err error
		srv, err = testutil.NewTestServerConfigT(tb, func(c *testutil.TestServerConfig) {
			c.LogLevel = "warn"
			c.Stdout, c.Stderr = &tb.log, &tb.log
			c.Connect = nil
			c.Peering = nil
		})
		if err != nil {
			tb.Fatalf("start consul: %v", err)
		}
	})
	if err == nil {
		err = waitReady(srv.HTTPAddr, readyTimeout)
	}
	if err != nil {
		a.err = err
		if srv != nil {
			_ = srv.Stop()
		}
		return
	}
	a.addr = srv.HTTPAddr
	a.stop = func() {
		var exit *exec.ExitError
		// Consul exits with status 1 after the interrupt Stop sends.
		if err := srv.Stop(); err != nil && !errors.As(err, &exit) {
			fmt.Fprintf(os.Stderr, "consultest: stop consul: %v\n", err)
		}
	}
}

// waitReady waits until the agent has a leader and has synced its own node.
func waitReady(addr string, limit time.Duration) error {
	cfg := api.DefaultNonPooledConfig()
	cfg.Address = addr
	c, err := api.NewClient(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		q := (&api.QueryOptions{}).WithContext(ctx)
		nodes, _, err := c.Catalog().Nodes(q)
		if err == nil && len(nodes) > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("consul at %s not ready after %v: %v", addr, limit, err)
		case <-tick.C:
		}
	}
}
