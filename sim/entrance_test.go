package sim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/gateway"
	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/scenario"
)

// The API gateway in front of a simulated world, in virtual time: calls
// through it reach the world's services, and the fault timeline acts on
// them as on the workloads'.
func TestEntranceWithTheGateway(t *testing.T) {
	sc := &scenario.Scenario{
		Name: "entrance", Seed: 2, Duration: scenario.D(4 * time.Second),
		Topology: scenario.Topology{Services: []scenario.Service{{Name: "greeter", Instances: 2,
			Endpoints: []scenario.Endpoint{{Name: "Greeter.Hello", Latency: scenario.Const(5 * time.Millisecond)}}}}},
		Workloads: []scenario.Workload{{Name: "w", Service: "greeter", Endpoint: "Greeter.Hello", Rate: 10}},
		Faults: []scenario.Fault{{Name: "down", At: scenario.D(2 * time.Second), For: scenario.D(time.Second),
			Errors: &scenario.ErrorsFault{Target: scenario.Target{Service: "greeter"}, Rate: 1, Code: "unavailable"}}},
	}
	type answer struct {
		at     time.Duration
		status int
		body   string
	}
	var answers []answer
	rep, err := sim.RunWith(sim.TestRunner(t), sc, sim.WithEntrance(func(e sim.Entrance) (func(), error) {
		gw, err := gateway.New(e.Registry, e.Client)
		if err != nil {
			return nil, err
		}
		var wg sync.WaitGroup
		start := time.Now()
		wg.Go(func() {
			// One call a second: before, during and after the fault.
			for _, at := range []time.Duration{time.Second, 2500 * time.Millisecond, 3500 * time.Millisecond} {
				time.Sleep(time.Until(start.Add(at)))
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodPost, "/greeter/hello", strings.NewReader(`{"name": "sim"}`))
				req.Header.Set("Content-Type", "application/json")
				gw.ServeHTTP(rec, req)
				answers = append(answers, answer{at: at, status: rec.Code, body: rec.Body.String()})
			}
		})
		return wg.Wait, nil
	}))
	require.NoError(t, err)
	require.Len(t, answers, 3)
	assert.Equal(t, http.StatusOK, answers[0].status, answers[0].body)
	assert.JSONEq(t, `{}`, answers[0].body)
	// The errors fault fails every attempt with unavailable: the gateway
	// answers 503 with the framework's error as JSON.
	assert.Equal(t, http.StatusServiceUnavailable, answers[1].status, answers[1].body)
	var problem map[string]any
	require.NoError(t, json.Unmarshal([]byte(answers[1].body), &problem))
	assert.Equal(t, "unavailable", problem["code"])
	assert.Equal(t, http.StatusOK, answers[2].status, answers[2].body)
	// The gateway's calls went to the world's instances: 3 calls plus
	// the retries of the one made during the fault.
	var attempts uint64
	for _, in := range rep.Instances {
		attempts += in.Attempts
	}
	assert.Greater(t, attempts, rep.Totals.Attempts+2)
}
