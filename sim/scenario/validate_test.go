package scenario_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/sim/scenario"
)

// base is a valid scenario; the cases below append to it or replace a part.
const base = `name: t
duration: 10s
topology:
  services:
    - name: api
      instances: 2
      zones: [a, b]
      endpoints:
        - name: Api.Get
          latency: 5ms
workloads:
  - service: api
    endpoint: Api.Get
    rate: 10
`

func TestParseValid(t *testing.T) {
	sc, err := scenario.Parse("t.yaml", []byte(base))
	require.NoError(t, err)
	assert.Equal(t, "t", sc.Name)
	assert.Equal(t, scenario.D(10e9), sc.Duration)
	assert.Equal(t, scenario.Const(5e6), sc.Topology.Services[0].Endpoints[0].Latency)
	assert.Equal(t, []string{"a", "b"}, sc.Topology.Services[0].Zones)
}

func TestParseBadInput(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // every error, in order
	}{
		{"unknown top-level field", base + "colour: red\n",
			[]string{`t.yaml:15:1: colour: unknown field "colour"; known fields: name, description, seed, duration, window, topology, clients, workloads, faults, assertions`}},
		{"wrong type", strings.Replace(base, "instances: 2", "instances: two", 1),
			[]string{`t.yaml:6:18: topology.services[0].instances: expected an integer, got the string "two"`}},
		{"negative duration", strings.Replace(base, "duration: 10s", "duration: -1s", 1),
			[]string{`t.yaml:2:11: duration: must be positive, got -1s`}},
		{"duration without unit", strings.Replace(base, "latency: 5ms", "latency: 5", 1),
			[]string{`t.yaml:10:20: topology.services[0].endpoints[0].latency: duration 5 needs a unit, for example 5s or 5ms`}},
		{"probability out of range", strings.Replace(base, "latency: 5ms", "latency: 5ms\n          error_rate: -0.1", 1),
			[]string{`t.yaml:11:23: topology.services[0].endpoints[0].error_rate: must be a probability in [0, 1], got -0.1`}},
		{"unknown service", strings.Replace(base, "  - service: api", "  - service: apx", 1),
			[]string{`t.yaml:12:14: workloads[0].service: service "apx" does not exist; services: api`}},
		{"unknown endpoint", strings.Replace(base, "endpoint: Api.Get", "endpoint: Api.Put", 1),
			[]string{`t.yaml:13:15: workloads[0].endpoint: service "api" has no endpoint "Api.Put"`}},
		{"unknown fault kind", base + "faults:\n  - at: 1s\n    explode: {}\n",
			[]string{
				`t.yaml:16:5: faults[0]: a fault needs a kind: one of crash, stop, slow, errors, partition, link_latency, loss, registry_outage, pause`,
				`t.yaml:17:5: faults[0].explode: unknown fault kind or field "explode"; known: name, at, for, until, every, stagger, crash, stop, slow, errors, partition, link_latency, loss, registry_outage, pause`,
			}},
		{"two fault kinds", base + "faults:\n  - crash: {target: {service: api}}\n    stop: {target: {service: api}}\n",
			[]string{`t.yaml:16:5: faults[0]: a fault has exactly one kind; this one has crash and stop (split it into 2 faults)`}},
		{"fault target out of range", base + "faults:\n  - crash: {target: {service: api, instance: 5}}\n",
			[]string{`t.yaml:16:46: faults[0].crash.target.instance: instance 5 does not exist: service "api" has instances 0 to 1`}},
		{"percentile out of range", base + "assertions:\n  - latency: {percentile: 0, max: 1s}\n",
			[]string{`t.yaml:16:27: assertions[0].latency.percentile: a percentile must be in (0, 100], got 0`}},
		{"unknown assertion kind", base + "assertions:\n  - throughput: {min: 3}\n",
			[]string{
				`t.yaml:16:5: assertions[0].throughput: unknown assertion kind or field "throughput"; known: name, success_rate, latency, traffic_share, retries, hedges, recovery`,
				`t.yaml:16:5: assertions[0]: an assertion needs a kind: one of success_rate, latency, traffic_share, retries, hedges, recovery`,
			}},
		{"recovery of an unknown fault", base + "assertions:\n  - recovery: {fault: nope, within: 1s}\n",
			[]string{`t.yaml:16:23: assertions[0].recovery.fault: fault "nope" does not exist; faults: `}},
		{"label value not a string", strings.Replace(base, "zones: [a, b]", "labels: {canary: true}", 1),
			[]string{`t.yaml:7:24: topology.services[0].labels.canary: expected a string, got the boolean true (quote it: "true")`}},
		{"syntax error", "name: [unclosed\n", []string{`t.yaml:1:7: YAML syntax:`}},
		{"empty file", "", []string{`t.yaml:1:1: the file holds no scenario (it is empty)`}},
		{"not a mapping", "- 1\n- 2\n", []string{`t.yaml:1:1: expected a mapping, got a list`}},
		{"alias to nothing", base + "description: *nothing\n", []string{`t.yaml:15:14: description: alias *nothing refers to no anchor defined before it`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scenario.Parse("t.yaml", []byte(tc.yaml))
			require.Error(t, err)
			var list scenario.ErrorList
			require.True(t, errors.As(err, &list), "an ErrorList: %v", err)
			got := strings.Split(err.Error(), "\n")
			require.Len(t, got, len(tc.want), "errors:\n%v", err)
			for i := range got {
				assert.True(t, strings.HasPrefix(got[i], tc.want[i]), "error %d:\n got %s\nwant %s", i, got[i], tc.want[i])
			}
		})
	}
}

// TestParseReportsEveryError: one file with many problems gets all of
// them, in file order, each with its position.
func TestParseReportsEveryError(t *testing.T) {
	_, err := scenario.Load("testdata/bad-everything.yaml")
	require.Error(t, err)
	var list scenario.ErrorList
	require.True(t, errors.As(err, &list))
	lines := []int{2, 3, 4, 6, 9, 10, 12, 13, 14, 15, 18, 20, 23, 25, 26, 28, 30, 31, 32}
	require.Len(t, list, len(lines), "%v", err)
	for i, e := range list {
		assert.Equal(t, "testdata/bad-everything.yaml", e.File)
		assert.Equal(t, lines[i], e.Pos.Line, "error %d: %v", i, e)
		assert.Positive(t, e.Pos.Col)
		assert.NotEmpty(t, e.Path)
	}
	assert.Contains(t, err.Error(), `testdata/bad-everything.yaml:15:11: topology.services[0].endpoints[0].eror_code: unknown field "eror_code" (did you mean "error_code"?)`)
}

func TestLoadMissingFile(t *testing.T) {
	_, err := scenario.Load("testdata/does-not-exist.yaml")
	require.Error(t, err)
	assert.Equal(t, "testdata/does-not-exist.yaml: cannot read the scenario: no such file or directory", err.Error())
}

func TestValidateBuilderScenario(t *testing.T) {
	sc := &scenario.Scenario{Name: "go", Duration: scenario.D(-1)}
	err := sc.Validate()
	require.Error(t, err)
	assert.Equal(t, strings.Join([]string{
		"duration: must be positive, got -1ns",
		"topology.services: the topology needs at least one service",
		"workloads: a scenario needs at least one workload",
	}, "\n"), err.Error())
}

// TestShippedScenariosParse: every shipped file decodes and validates.
func TestShippedScenariosParse(t *testing.T) {
	files, err := scenario.ScenarioFiles("../../scenarios")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		_, err = scenario.Parse(f, data)
		assert.NoError(t, err, f)
	}
}
