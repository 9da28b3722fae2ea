package consultest

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// outcomeTB records how Addr ended a test: Skip and Fatal end the calling
// goroutine, as testing.T's do.
type outcomeTB struct {
	testing.TB
	skipped, fatal string
}

func (tb *outcomeTB) Helper()           {}
func (tb *outcomeTB) Skip(args ...any)  { tb.skipped = fmt.Sprint(args...); runtime.Goexit() }
func (tb *outcomeTB) Fatal(args ...any) { tb.fatal = fmt.Sprint(args...); runtime.Goexit() }
func (tb *outcomeTB) Fatalf(f string, args ...any) {
	tb.fatal = fmt.Sprintf(f, args...)
	runtime.Goexit()
}

// addr runs a.Addr on a goroutine of its own and reports how it ended.
func addr(t *testing.T, a *Agent) (tb *outcomeTB, returned string) {
	tb = &outcomeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		returned = a.Addr(tb)
	}()
	<-done
	return tb, returned
}

func TestAddrWithoutConsul(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no consul here

	t.Run("skips", func(t *testing.T) {
		t.Setenv(RequireEnv, "")
		tb, got := addr(t, new(Agent))
		require.Equal(t, SkipMessage, tb.skipped)
		require.Empty(t, tb.fatal)
		require.Empty(t, got)
	})
	t.Run("fails when required", func(t *testing.T) {
		t.Setenv(RequireEnv, "1")
		tb, got := addr(t, new(Agent))
		require.Equal(t, RequireEnv+"=1 but "+SkipMessage, tb.fatal)
		require.Empty(t, tb.skipped)
		require.Empty(t, got)
	})
}

type runCount struct{ n int }

func (r *runCount) Run() int { r.n++; return 7 }

func TestWrapWithoutAgent(t *testing.T) {
	var a Agent
	m := &runCount{}
	require.Equal(t, 7, a.Wrap(m).Run(), "Run returns the tests' exit code")
	require.Equal(t, 1, m.n)

	tb, _ := addr(t, &a)
	require.Contains(t, tb.fatal, "after the tests ended", "no agent starts once the tests have run")
}
