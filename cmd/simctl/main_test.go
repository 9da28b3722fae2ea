package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/microsim/microsim/sim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// simctl runs the command in-process, with bubbles hosted by t.
func simctl(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = execute(args, &out, &errb, sim.TestRunner(t))
	return code, out.String(), errb.String()
}

const failing = `name: too-demanding
duration: 2s
topology:
  services:
    - name: api
      instances: 2
      endpoints:
        - {name: Api.Get, latency: 20ms}
workloads:
  - {service: api, endpoint: Api.Get, rate: 50}
assertions:
  - latency: {percentile: 50, max: 5ms}
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func TestRunPasses(t *testing.T) {
	code, out, errb := simctl(t, "run", "../../scenarios/steady-state.yaml")
	assert.Equal(t, 0, code, errb)
	assert.True(t, strings.HasPrefix(out, "PASS  steady-state"), out)
	assert.Contains(t, out, "Traffic per instance")
	assert.Contains(t, out, "Fault timeline")
	assert.Empty(t, errb)
}

func TestRunJSONAndSeed(t *testing.T) {
	code, out, errb := simctl(t, "run", "--format", "json", "--seed", "5", "../../scenarios/steady-state.yaml")
	require.Equal(t, 0, code, errb)
	var rep map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	assert.Equal(t, true, rep["passed"])
	assert.Equal(t, float64(5), rep["seed"])
	totals := rep["totals"].(map[string]any)
	for _, k := range []string{"calls", "successes", "failures", "retries"} {
		assert.Contains(t, totals, k)
	}
	assert.Positive(t, totals["calls"].(float64))
	assert.Len(t, rep["instances"], 3)
	for _, a := range rep["assertions"].([]any) {
		m := a.(map[string]any)
		for _, k := range []string{"name", "passed", "observed", "expected"} {
			assert.Contains(t, m, k)
		}
	}
}

func TestRunOutFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "report.json")
	code, stdout, errb := simctl(t, "run", "--format=json", "--out", out, "../../scenarios/steady-state.yaml")
	require.Equal(t, 0, code, errb)
	assert.Empty(t, stdout)
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.True(t, json.Valid(data))
}

func TestRunFailingAssertionExits1(t *testing.T) {
	code, out, _ := simctl(t, "run", writeFile(t, "f.yaml", failing))
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "FAIL  too-demanding")
	assert.Contains(t, out, "FAIL  p50 latency <= 5ms")
	assert.Contains(t, out, "observed 20.0ms")
}

func TestInvalidInputExits2(t *testing.T) {
	bad := writeFile(t, "bad.yaml", "name: x\nduration: 1s\ncolour: red\n")
	cases := map[string][]string{
		"invalid file":        {"run", bad},
		"missing file":        {"run", "nope.yaml"},
		"unknown format":      {"run", "--format", "xml", "../../scenarios/steady-state.yaml"},
		"unknown flag":        {"run", "--bogus", "../../scenarios/steady-state.yaml"},
		"bad seed":            {"run", "--seed", "-1", "../../scenarios/steady-state.yaml"},
		"no file":             {"run"},
		"unknown command":     {"explode"},
		"validate invalid":    {"validate", bad},
		"list missing dir":    {"list", filepath.Join(t.TempDir(), "none")},
		"list too many args":  {"list", "a", "b"},
		"validate no args":    {"validate"},
		"run valid + invalid": {"run", "../../scenarios/steady-state.yaml", bad},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			code, out, errb := simctl(t, args...)
			assert.Equal(t, 2, code, "stdout %s\nstderr %s", out, errb)
			assert.NotEmpty(t, errb)
			assert.NotContains(t, errb, "goroutine ", "no stack trace")
			assert.NotContains(t, out, "PASS")
		})
	}
	_, _, errb := simctl(t, "validate", bad)
	assert.Contains(t, errb, bad+`:3:1: colour: unknown field "colour"`)
	assert.Contains(t, errb, bad+`:1:1: topology.services: the topology needs at least one service`)
}

func TestValidateAndList(t *testing.T) {
	code, out, errb := simctl(t, "validate", "../../scenarios/steady-state.yaml", "../../scenarios/rolling-restart.yaml")
	assert.Equal(t, 0, code, errb)
	assert.Equal(t, "../../scenarios/steady-state.yaml: ok\n../../scenarios/rolling-restart.yaml: ok\n", out)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(failing), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a scenario"), 0o644))
	code, out, errb = simctl(t, "list", dir)
	assert.Equal(t, 0, code, errb)
	assert.Equal(t, "a.yaml                       too-demanding\n", strings.TrimRight(out, " \n")+"\n")
}

// TestBinary builds simctl and runs it: the bubble is hosted by
// testing.Main inside a plain binary, stdout carries only the report and
// the exit codes are simctl's own.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "simctl")
	build := runProgram(t, "", "go", "build", "-o", bin, ".")
	require.Equal(t, 0, build.code, build.stderr)

	r := runProgram(t, "", bin, "run", "--format", "json", "../../scenarios/steady-state.yaml")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.True(t, json.Valid([]byte(r.stdout)), "stdout is only the JSON report: %q", r.stdout)

	r = runProgram(t, "", bin, "run", writeFile(t, "f.yaml", failing))
	assert.Equal(t, 1, r.code, r.stderr)
	assert.NotContains(t, r.stdout, "\nFAIL\n", "testing's own verdict is not printed")

	// A sweep runs several bubbles of the binary's single test at once.
	r = runProgram(t, "", bin, "run", "--seeds", "1-4", "../../scenarios/steady-state.yaml")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "seeds 1-4: 4 runs, 4 passed, 0 failed")
	assert.Empty(t, r.stderr, "no progress bar: stderr is not a terminal")

	r = runProgram(t, "", bin, "validate", writeFile(t, "bad.yaml", "name: [\n"))
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "bad.yaml:1:7: YAML syntax")
}
