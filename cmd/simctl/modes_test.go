package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/sweep"
)

const steady = "../../scenarios/steady-state.yaml"

// short is a scenario of 2s that passes.
const short = `name: short
duration: 2s
topology:
  services:
    - name: api
      instances: 2
      endpoints:
        - {name: Api.Get, latency: 10ms}
workloads:
  - {service: api, endpoint: Api.Get, rate: 50, arrivals: uniform}
assertions:
  - success_rate: {min: 1}
`

func TestRunJUnit(t *testing.T) {
	code, out, errb := simctl(t, "run", "--format", "junit", writeFile(t, "s.yaml", short), writeFile(t, "f.yaml", failing))
	assert.Equal(t, 1, code, errb)
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal([]byte(out), &doc), out)
	require.Len(t, doc.Suites, 2)
	assert.Equal(t, "short", doc.Suites[0].Name)
	assert.Len(t, doc.Suites[0].Cases, 1)
	assert.Equal(t, 2, doc.Tests)
	assert.Equal(t, 1, doc.Failures)
	c := doc.Suites[1].Cases[0]
	assert.Equal(t, "p50 latency <= 5ms", c.Name)
	require.NotNil(t, c.Failure)
	assert.Equal(t, "observed 20.0ms, expected <= 5.00ms", c.Failure.Message)

	// An invalid file: an error testcase, the valid file skipped, exit 2.
	bad := writeFile(t, "bad.yaml", "name: x\nduration: 1s\ncolour: red\n")
	code, out, errb = simctl(t, "run", "--format=junit", steady, bad)
	assert.Equal(t, 2, code)
	assert.Contains(t, errb, `colour: unknown field "colour"`)
	assert.Contains(t, out, `<skipped message="not run: another file is invalid">`)
	assert.Contains(t, out, `<testcase name="load" classname="`+bad+`"`)
	assert.Contains(t, out, `errors="1"`)
}

func TestRunHTML(t *testing.T) {
	out := filepath.Join(t.TempDir(), "report.html")
	code, stdout, errb := simctl(t, "run", "--format", "html", "--out", out, "../../scenarios/node-crash-ghost.yaml")
	require.Equal(t, 0, code, errb)
	assert.Empty(t, stdout)
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	page := string(data)
	assert.True(t, strings.HasPrefix(page, "<!DOCTYPE html>"))
	assert.Equal(t, 5, strings.Count(page, "<figure class=\"chart\""))
	assert.Equal(t, 5, strings.Count(page, "<svg "))
	assert.Contains(t, page, "crash-api-1: api-1", "the crash band's label")
}

// TestRunSeeds: a sweep exits 1 when a seed fails, names the failing
// seeds and prints the command that replays one; it exits 0 when every
// seed passes.
func TestRunSeeds(t *testing.T) {
	file := writeFile(t, "f.yaml", failing)
	code, out, errb := simctl(t, "run", "--seeds", "1-4", file)
	assert.Equal(t, 1, code, errb)
	assert.Contains(t, out, "FAIL  too-demanding")
	assert.Contains(t, out, "seeds 1-4: 4 runs, 0 passed, 4 failed")
	assert.Contains(t, out, "p50 latency <= 5ms")
	assert.Contains(t, out, "4/4")
	assert.Contains(t, out, "Replay a failing seed\n  simctl run --seed 1 "+file+"\n")

	code, out, errb = simctl(t, "run", "--seeds", "3-5", "--format", "json", writeFile(t, "s.yaml", short))
	require.Equal(t, 0, code, errb)
	var s sweep.Report
	require.NoError(t, json.Unmarshal([]byte(out), &s), out)
	assert.True(t, s.Passed)
	assert.Equal(t, []uint64{3, 4, 5}, s.Seeds)
	assert.Empty(t, s.Failed)
	require.NotEmpty(t, s.Figures)
	assert.Equal(t, "calls", s.Figures[0].Name)
	assert.Equal(t, 100.0, s.Figures[0].Median, "50 calls/s for 2s, uniform")

	code, out, _ = simctl(t, "run", "--seeds", "1-2", "--format", "junit", file)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, `name="too-demanding [seed 1]"`)
	assert.Contains(t, out, `name="too-demanding [seed 2]"`)
}

func TestRunCheckDeterminism(t *testing.T) {
	code, out, errb := simctl(t, "run", "--check-determinism", "--seed", "3", writeFile(t, "s.yaml", short))
	require.Equal(t, 0, code, errb)
	assert.Equal(t, "DETERMINISTIC  short  ("+strings.TrimSpace(strings.Split(strings.Split(out, "(")[1], ")")[0])+")\n"+
		"  seed 3, 2 runs: the reports are identical (wall_seconds aside)\n"+
		"  the scenario passed: 100 calls, 0 failed, 1 of 1 assertions held\n", out)

	code, out, errb = simctl(t, "run", "--check-determinism", "--format", "json", writeFile(t, "f.yaml", failing))
	require.Equal(t, 0, code, "the reports agree; that the assertion fails does not matter here: %s", errb)
	var d sweep.DeterminismReport
	require.NoError(t, json.Unmarshal([]byte(out), &d))
	assert.True(t, d.Identical)
	assert.False(t, d.Passed)
	assert.Empty(t, d.Diffs)
}

// TestRunTCP runs a 2s scenario in real time over TCP.
func TestRunTCP(t *testing.T) {
	if testing.Short() {
		t.Skip("2s of real time")
	}
	code, out, errb := simctl(t, "run", "--network", "tcp", "--format", "json", writeFile(t, "s.yaml", short))
	require.Equal(t, 0, code, errb)
	var rep sim.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.True(t, rep.Passed)
	assert.Equal(t, uint64(100), rep.Totals.Calls)
	assert.Equal(t, uint64(100), rep.Totals.Successes)
	assert.InDelta(t, 10, rep.Latency.P50, 4)
	assert.GreaterOrEqual(t, rep.WallSeconds, 2.0)
}

func TestRunModesInvalid(t *testing.T) {
	pause := writeFile(t, "p.yaml", strings.Replace(short, "assertions:", "faults:\n  - {at: 1s, pause: {target: {service: api}}}\nassertions:", 1))
	cases := map[string][]string{
		"seeds and seed":         {"run", "--seeds", "1-3", "--seed", "2", steady},
		"bad range":              {"run", "--seeds", "5-1", steady},
		"bad range text":         {"run", "--seeds", "x", steady},
		"seeds and html":         {"run", "--seeds", "1-3", "--format", "html", steady},
		"two modes":              {"run", "--seeds", "1-3", "--check-determinism", steady},
		"tcp and seeds":          {"run", "--seeds", "1-3", "--network", "tcp", steady},
		"determinism and junit":  {"run", "--check-determinism", "--format", "junit", steady},
		"unknown network":        {"run", "--network", "udp", steady},
		"negative parallel":      {"run", "--seeds", "1-2", "--parallel", "-1", steady},
		"tcp with a pause fault": {"run", "--network", "tcp", pause},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			code, out, errb := simctl(t, args...)
			assert.Equal(t, 2, code, "stdout %s\nstderr %s", out, errb)
			assert.NotEmpty(t, errb)
			assert.Empty(t, out)
			assert.NotContains(t, errb, "goroutine ")
		})
	}
}

// TestProgressSilent: no progress bar unless stdout and stderr are
// terminals, and none with --quiet.
func TestProgressSilent(t *testing.T) {
	for _, c := range []struct {
		name     string
		terminal bool
		args     []string
	}{
		{"pipes", false, nil},
		{"quiet terminal", true, []string{"--quiet"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			a := &app{stdout: &out, stderr: &errb, run: sim.TestRunner(t), progressDelay: -1,
				isTerminal: func(io.Writer) bool { return c.terminal }, termWidth: func(io.Writer) int { return 100 }}
			code := executeApp(a, append([]string{"run", writeFile(t, "s.yaml", short)}, c.args...))
			require.Equal(t, 0, code, errb.String())
			assert.Empty(t, errb.String())
			assert.True(t, strings.HasPrefix(out.String(), "PASS  short"))
		})
	}
}

// TestProgressOnTerminal: on a terminal the bar is drawn on stderr and
// erased before the report.
func TestProgressOnTerminal(t *testing.T) {
	var out, errb bytes.Buffer
	a := &app{stdout: &out, stderr: &errb, run: sim.TestRunner(t), progressDelay: -1,
		isTerminal: func(io.Writer) bool { return true }, termWidth: func(io.Writer) int { return 100 }}
	code := executeApp(a, []string{"run", writeFile(t, "s.yaml", short)})
	require.Equal(t, 0, code, errb.String())
	bar := errb.String()
	assert.True(t, strings.HasPrefix(bar, "\r["), "%q", bar)
	assert.Contains(t, bar, "s virtual")
	assert.Contains(t, bar, "  short")
	assert.True(t, strings.HasSuffix(bar, "\r\x1b[K"), "erased at the end: %q", bar)
	assert.True(t, strings.HasPrefix(out.String(), "PASS  short"))
}

// TestOneCoreForASingleRun: a single run in virtual time runs on one core
// (the command's oneCore), restored after the run; runs of several seeds
// at once keep every core.
func TestOneCoreForASingleRun(t *testing.T) {
	for _, c := range []struct {
		name  string
		args  []string
		calls int
	}{
		{"single run", nil, 1},
		{"seeds", []string{"--seeds", "1-2"}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			calls, restored := 0, 0
			a := newApp(&out, &errb, sim.TestRunner(t))
			a.oneCore = func() func() {
				calls++
				return func() { restored++ }
			}
			code := executeApp(a, append([]string{"run", "--quiet", writeFile(t, "s.yaml", short)}, c.args...))
			require.Equal(t, 0, code, errb.String())
			assert.Equal(t, c.calls, calls)
			assert.Equal(t, c.calls, restored)
		})
	}
}

// useOneCore leaves GOMAXPROCS as the environment sets it.
func TestUseOneCoreRespectsGOMAXPROCS(t *testing.T) {
	t.Setenv("GOMAXPROCS", "3")
	before := runtime.GOMAXPROCS(0)
	restore := useOneCore()
	assert.Equal(t, before, runtime.GOMAXPROCS(0))
	restore()
	assert.Equal(t, before, runtime.GOMAXPROCS(0))
}
