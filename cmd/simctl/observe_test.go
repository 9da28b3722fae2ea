package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunTraceAndMetrics(t *testing.T) {
	dir := t.TempDir()
	tracef, metricsf := filepath.Join(dir, "trace.json"), filepath.Join(dir, "metrics.txt")
	code, out, errb := simctl(t, "run", "--trace", tracef, "--metrics", metricsf, "../../scenarios/node-crash-ghost.yaml")
	require.Equal(t, 0, code, errb)
	assert.True(t, strings.HasPrefix(out, "PASS  node-crash-ghost"), out)
	assert.Contains(t, errb, "simctl: wrote the traces to "+tracef)
	assert.Contains(t, errb, "simctl: wrote the metrics to "+metricsf)

	data, err := os.ReadFile(tracef)
	require.NoError(t, err)
	var doc struct {
		ResourceSpans []struct {
			ScopeSpans []struct {
				Spans []struct {
					TraceID string `json:"traceId"`
					Name    string `json:"name"`
					Kind    int    `json:"kind"`
				} `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	}
	require.NoError(t, json.Unmarshal(data, &doc))
	spans := doc.ResourceSpans[0].ScopeSpans[0].Spans
	require.NotEmpty(t, spans)
	assert.Len(t, spans[0].TraceID, 32, "hex trace IDs")
	assert.Equal(t, "api/Api.Get", spans[0].Name)

	m, err := os.ReadFile(metricsf)
	require.NoError(t, err)
	assert.Contains(t, string(m), `micro_client_attempts_total{micro_code="ok",micro_endpoint="Api.Get",micro_kind="retry",micro_name="api"}`,
		"the ghost's refusals were retried")
	assert.True(t, strings.HasSuffix(string(m), "# EOF\n"))

	// One run only.
	code, _, errb = simctl(t, "run", "--trace", tracef, "--seeds", "1-2", "../../scenarios/node-crash-ghost.yaml")
	assert.Equal(t, 2, code)
	assert.Contains(t, errb, "--trace and --metrics observe a single run")
	code, _, errb = simctl(t, "run", "--metrics", metricsf, "--metrics-format", "xml", "../../scenarios/node-crash-ghost.yaml")
	assert.Equal(t, 2, code)
	assert.Contains(t, errb, `unknown --metrics-format "xml"`)
}
