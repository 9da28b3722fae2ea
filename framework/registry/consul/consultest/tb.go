package consultest

import (
	"bytes"
	"fmt"
	"os"
	"sync"
)

// agentTB is the testutil.TestingTB the shared agent is started with: the
// agent outlives every test, so it cannot belong to one. It collects the
// agent's log and the cleanups testutil registers, which Wrap's Run runs
// after the agent has stopped.
type agentTB struct {
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

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.String()
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.Buffer.Bytes())
}

// failNow unwinds agentTB.run after FailNow.
type failNow struct{}

// run calls f, turning FailNow into an error that carries the agent's log.
func (tb *agentTB) run(f func()) (err error) {
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

func (tb *agentTB) runCleanups() {
	tb.mu.Lock()
	cs := tb.cleanups
	tb.cleanups = nil
	tb.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}

func (tb *agentTB) Cleanup(f func()) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.cleanups = append(tb.cleanups, f)
}
func (tb *agentTB) Error(args ...any)                 { tb.Log(args...); tb.Fail() }
func (tb *agentTB) Errorf(format string, args ...any) { tb.Logf(format, args...); tb.Fail() }
func (tb *agentTB) Fail() {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.failed = true
}
func (tb *agentTB) FailNow() { tb.Fail(); panic(failNow{}) }
func (tb *agentTB) Failed() bool {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.failed
}
func (tb *agentTB) Fatal(args ...any)                 { tb.Log(args...); tb.FailNow() }
func (tb *agentTB) Fatalf(format string, args ...any) { tb.Logf(format, args...); tb.FailNow() }
func (tb *agentTB) Helper()                           {}
func (tb *agentTB) Log(args ...any)                   { fmt.Fprintln(&tb.log, args...) }
func (tb *agentTB) Logf(format string, args ...any)   { fmt.Fprintf(&tb.log, format+"\n", args...) }
func (tb *agentTB) Name() string                      { return tb.name }
func (tb *agentTB) Setenv(key, value string)          { _ = os.Setenv(key, value) }
func (tb *agentTB) TempDir() string {
	dir, err := os.MkdirTemp("", "consul-test")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
