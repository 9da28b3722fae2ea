package sim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/microsim/microsim/sim/internal/bubble"
	"github.com/microsim/microsim/sim/scenario"
)

// Runner runs a function in a fresh testing/synctest bubble (virtual
// time) and returns when it and every goroutine it started have returned.
// TestRunner makes one inside go test; Main gives one to a binary.
type Runner = bubble.Runner

// TestRunner returns a Runner whose bubbles belong to t.
func TestRunner(t *testing.T) Runner { return bubble.ForTest(t) }

// Main lets a plain binary (simctl) host bubbles: it calls prog with a
// Runner and ends the process with prog's return value as exit code. It
// never returns; prog writes its output before returning.
func Main(prog func(run Runner) int) { bubble.Main(prog) }

// RunWith runs a scenario in a bubble of run and returns its report, with
// the wall time the run took. A panic inside the engine is returned as an
// error, never propagated.
func RunWith(run Runner, sc *scenario.Scenario, opts ...RunOption) (rep *Report, err error) {
	wall := time.Now() // real time: taken outside the bubble
	run(func() {
		defer func() {
			if r := recover(); r != nil {
				rep, err = nil, fmt.Errorf("sim: internal error while running %q: %v", sc.Name, r)
			}
		}()
		rep, err = simulate(sc, opts...)
	})
	if rep != nil {
		rep.WallSeconds = time.Since(wall).Seconds()
	}
	return rep, err
}

// Run runs a scenario under t in a testing/synctest bubble: s is the path
// of a scenario file (loaded and validated first) or a scenario built in
// Go. It fails t, with the text report, when the file is invalid, the run
// fails, an assertion does not hold or a fault changed nothing (each of
// the report's warnings), and returns the report (nil when there is none).
// It blocks until the run has ended.
func Run[S string | *scenario.Scenario](t *testing.T, s S, opts ...RunOption) *Report {
	t.Helper()
	var sc *scenario.Scenario
	switch s := any(s).(type) {
	case string:
		var err error
		if sc, err = scenario.Load(s); err != nil {
			t.Errorf("scenario %s is invalid:\n%v", s, err)
			return nil
		}
		opts = append([]RunOption{WithFile(s)}, opts...)
	case *scenario.Scenario:
		sc = s
	}
	rep, err := RunWith(TestRunner(t), sc, opts...)
	if err != nil {
		t.Errorf("scenario %q: %v", scName(sc), err)
		return nil
	}
	if !rep.Passed {
		var b strings.Builder
		_ = rep.WriteText(&b)
		t.Errorf("scenario %q: %d assertion(s) failed:\n%s", rep.Scenario, len(rep.FailedAssertions()), b.String())
	}
	for _, w := range rep.Warnings {
		// A fault that changed nothing proves nothing: the test fails.
		t.Errorf("scenario %q: %s", rep.Scenario, w)
	}
	return rep
}

func scName(sc *scenario.Scenario) string {
	if sc == nil {
		return "<nil>"
	}
	return sc.Name
}
