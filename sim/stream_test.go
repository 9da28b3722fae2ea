package sim_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/scenario"
)

func TestStreams(t *testing.T) {
	sc := &scenario.Scenario{
		Name: "streams", Seed: 6, Duration: scenario.D(20 * time.Second),
		Topology: scenario.Topology{Services: []scenario.Service{{Name: "chat", Instances: 2,
			Endpoints: []scenario.Endpoint{{Name: "Chat.Talk", Stream: true, Latency: scenario.Const(2 * time.Millisecond)}}}}},
		Workloads: []scenario.Workload{{Name: "talk", Service: "chat", Endpoint: "Chat.Talk", Rate: 10, Arrivals: "uniform",
			Stream: &scenario.StreamSpec{Messages: 10, Interval: scenario.D(100 * time.Millisecond)}}},
		Faults: []scenario.Fault{{Name: "crash", At: scenario.D(5*time.Second + 50*time.Millisecond), For: scenario.D(5 * time.Second),
			Crash: &scenario.NodeFault{Target: scenario.Target{Service: "chat", Instance: scenario.I(0)}}}},
		Assertions: []scenario.Assertion{
			{Stream: &scenario.StreamCheck{Workload: "talk", Percentile: 99, MaxMessageLatency: scenario.D(3 * time.Millisecond)}},
		},
	}
	r := sim.Run(t, sc)
	require.NotNil(t, r)
	require.Len(t, r.Streams, 1)
	s := r.Streams[0]
	// 200 streams of 10 messages, each lasting ~0.92s (10 x 2ms + 9 x
	// 100ms). A stream lives ~1s, so about 5 streams of chat-0 (half of
	// the ~10 open) are open when it crashes: they are interrupted.
	assert.Equal(t, uint64(200), s.Opened+s.OpenFailures)
	assert.Equal(t, s.Opened, s.Completed+s.Interrupted)
	assert.InDelta(t, 5, float64(s.Interrupted), 2, "streams on chat-0 when it crashed")
	assert.Equal(t, r.Totals.Successes, s.Completed, "a stream is a call of its workload")
	assert.GreaterOrEqual(t, s.Messages, 10*s.Completed)
	assert.InDelta(t, 2, s.MessageLatency.P50, 0.1)

	// Validation: a stream endpoint needs a stream workload, and back.
	sc.Workloads[0].Stream = nil
	require.ErrorContains(t, sc.Validate(), `endpoint "Chat.Talk" is a stream: give the workload a stream block`)
	sc.Workloads[0].Stream = &scenario.StreamSpec{Messages: 0}
	require.ErrorContains(t, sc.Validate(), `workloads[0].stream.messages: must be in [1, 100000], got 0`)
}
