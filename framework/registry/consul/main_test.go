package consul_test

import (
	"bytes"
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
	"go.uber.org/goleak"
)

// skipMsg is how a test without a consul binary explains itself.
const skipMsg = "consul not on PATH; run `make test` (builds it into bin/) or put consul on PATH"

// agent is the one Consul agent this test binary shares, started by the
// first test that needs it and stopped after the last. Tests use unique
// service names so they do not interfere.
var agent struct {
	once sync.Once
	tb   *mainTB
	addr string // host:port of its HTTP API
	err  error  // why there is none
	stop func()
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(mainRun{m},
		// freeport (used by testutil to pick the agent's ports) runs a
		// package-level goroutine for the life of the process, with no way
		// to stop it. It is the SDK's, not ours.
		goleak.IgnoreTopFunction("github.com/hashicorp/consul/sdk/freeport.checkFreedPorts"),
	)
}

// mainRun stops the shared agent after the tests, before goleak looks for
// leaked goroutines.
type mainRun struct{ m *testing.M }

func (r mainRun) Run() int {
	code := r.m.Run()
	agent.once.Do(func() {}) // no agent may start from now on
	if tb := agent.tb; tb != nil {
		agent.stop()
		tb.runCleanups()
		if code != 0 || tb.Failed() {
			os.Stdout.Write(tb.log.Bytes())
		}
	}
	return code
}

// startAgent starts a Consul agent on loopback if consul is on PATH.
func startAgent() {
	if _, err := exec.LookPath("consul"); err != nil {
		agent.err = errNoConsul
		return
	}
	tb := &mainTB{name: "consul-agent"}
	agent.tb, agent.stop = tb, func() {}
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
		err = waitReady(srv.HTTPAddr, 30*time.Second)
	}
	if err != nil {
		agent.err = err
		if srv != nil {
			_ = srv.Stop()
		}
		return
	}
	agent.addr = srv.HTTPAddr
	agent.stop = func() {
		var exit *exec.ExitError
		// Consul exits with status 1 after the interrupt Stop sends.
		if err := srv.Stop(); err != nil && !errors.As(err, &exit) {
			fmt.Fprintf(os.Stderr, "stop consul: %v\n", err)
		}
	}
}

var errNoConsul = errors.New(skipMsg)

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
	for {
		q := (&api.QueryOptions{}).WithContext(ctx)
		nodes, _, err := c.Catalog().Nodes(q)
		if err == nil && len(nodes) > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("consul at %s not ready: %v", addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// consulAddr returns the shared agent's address, or skips the test (fails it
// when MICROSIM_REQUIRE_CONSUL=1) when there is no consul binary.
func consulAddr(t *testing.T) string {
	t.Helper()
	agent.once.Do(startAgent)
	switch {
	case agent.tb == nil && agent.err == nil:
		t.Fatal("consul agent requested after the tests ended")
	case agent.err == errNoConsul && os.Getenv("MICROSIM_REQUIRE_CONSUL") == "1":
		t.Fatal("MICROSIM_REQUIRE_CONSUL=1 but " + skipMsg)
	case agent.err == errNoConsul:
		t.Skip(skipMsg)
	case agent.err != nil:
		t.Fatalf("consul agent: %v", agent.err)
	}
	return agent.addr
}

// mainTB is the testutil.TestingTB of TestMain, which has no *testing.T.
type mainTB struct {
	name     string
	log      syncBuffer
	mu       sync.Mutex
	failed   bool
	cleanups []func()
}

type syncBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

// failNow unwinds mainTB.run after FailNow.
type failNow struct{}

// run calls f, turning FailNow into an error.
func (tb *mainTB) run(f func()) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(failNow); !ok {
				panic(p)
			}
			err = fmt.Errorf("consul agent failed to start:\n%s", tb.log.String())
		}
	}()
	f()
	return nil
}

func (tb *mainTB) runCleanups() {
	tb.mu.Lock()
	cs := tb.cleanups
	tb.cleanups = nil
	tb.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}

func (tb *mainTB) Cleanup(f func()) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.cleanups = append(tb.cleanups, f)
}
func (tb *mainTB) Error(args ...any)                 { tb.Log(args...); tb.Fail() }
func (tb *mainTB) Errorf(format string, args ...any) { tb.Logf(format, args...); tb.Fail() }
func (tb *mainTB) Fail() {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.failed = true
}
func (tb *mainTB) FailNow() { tb.Fail(); panic(failNow{}) }
func (tb *mainTB) Failed() bool {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.failed
}
func (tb *mainTB) Fatal(args ...any)                 { tb.Log(args...); tb.FailNow() }
func (tb *mainTB) Fatalf(format string, args ...any) { tb.Logf(format, args...); tb.FailNow() }
func (tb *mainTB) Helper()                           {}
func (tb *mainTB) Log(args ...any)                   { fmt.Fprintln(&tb.log, args...) }
func (tb *mainTB) Logf(format string, args ...any)   { fmt.Fprintf(&tb.log, format+"\n", args...) }
func (tb *mainTB) Name() string                      { return tb.name }
func (tb *mainTB) Setenv(key, value string)          { _ = os.Setenv(key, value) }
func (tb *mainTB) TempDir() string {
	dir, err := os.MkdirTemp("", "consul-test")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
