package scenario_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/sim/scenario"
)

// graphBase is a valid two-tier scenario; the cases below change it.
const graphBase = `name: g
duration: 10s
topology:
  services:
    - name: api
      instances: 2
      endpoints:
        - name: Api.Get
          latency: 1ms
          calls:
            - {service: db, endpoint: Db.Query}
    - name: db
      instances: 2
      endpoints:
        - name: Db.Query
          latency: 2ms
workloads:
  - {service: api, endpoint: Api.Get, rate: 10}
`

func TestGraphValidation(t *testing.T) {
	cases := []struct {
		name, old, new string
		want           []string
	}{
		{"missing service", "{service: db, endpoint: Db.Query}", "{service: dbx, endpoint: Db.Query}",
			[]string{`g.yaml:11:25: topology.services[0].endpoints[0].calls[0].service: service "dbx" does not exist; services: api, db`}},
		{"missing endpoint", "{service: db, endpoint: Db.Query}", "{service: db, endpoint: Db.Nope}",
			[]string{`g.yaml:11:39: topology.services[0].endpoints[0].calls[0].endpoint: service "db" has no endpoint "Db.Nope"`}},
		{"need above the fan-out", "{service: db, endpoint: Db.Query}", "{service: db, endpoint: Db.Query, fanout: 3, need: 4}",
			[]string{`topology.services[0].endpoints[0].calls[0].need: must be in [1, 3] (the step makes 3 calls), got 4`}},
		{"negative fan-out", "{service: db, endpoint: Db.Query}", "{service: db, endpoint: Db.Query, fanout: -1}",
			[]string{`calls[0].fanout: must be in [1, 1000], got -1`}},
		{"a budget per edge", "{service: db, endpoint: Db.Query}", "{service: db, endpoint: Db.Query, retries: {budget: {ratio: 0.1}}}",
			[]string{`calls[0].retries.budget: a retry budget is the client's: set it in the calling service's client block`}},
		{"a request to a synthetic service", "{service: db, endpoint: Db.Query}", "{service: db, endpoint: Db.Query, request: '{}'}",
			[]string{`calls[0].request: service "db" is synthetic and takes no request`}},
		{"a cycle", "          latency: 2ms\nworkloads", "          latency: 2ms\n          calls: [{service: api, endpoint: Api.Get}]\nworkloads",
			[]string{`topology.services[1].endpoints[0].calls[0].service: the call graph has a cycle: api/Api.Get -> db/Db.Query -> api/Api.Get`}},
		{"a fan-out explosion", "{service: db, endpoint: Db.Query}", "{service: db, endpoint: Db.Query, fanout: 1000}\n            - {service: db, endpoint: Db.Query, fanout: 1000}\n            - {service: db, endpoint: Db.Query, fanout: 1000}\n            - {service: db, endpoint: Db.Query, fanout: 1000}\n            - {service: db, endpoint: Db.Query, fanout: 1000}\n            - {service: db, endpoint: Db.Query, fanout: 1000}\n            - {service: db, endpoint: Db.Query, fanout: 1000}\n            - {service: db, endpoint: Db.Query, fanout: 1000}\n            - {service: db, endpoint: Db.Query, fanout: 1000}\n            - {service: db, endpoint: Db.Query, fanout: 1000}\n            - {service: db, endpoint: Db.Query, fanout: 1000}",
			[]string{`one call of api/Api.Get causes more than 10000 calls down the call graph`}},
		{"a step that is both", "{service: db, endpoint: Db.Query}", "{service: db, endpoint: Db.Query, parallel: [{service: db, endpoint: Db.Query}]}",
			[]string{`calls[0]: a step is one call (service, endpoint, fanout) or a parallel group, not both`}},
		{"calls from a Go service", "    - name: api\n      instances: 2", "    - name: api\n      implementation: go\n      instances: 2",
			[]string{`topology.services[0].endpoints[0].calls: service "api" is implemented in Go: its handlers decide calls`}},
		{"unknown implementation", "    - name: db\n      instances: 2", "    - name: db\n      implementation: rust\n      instances: 2",
			[]string{`implementation: unknown implementation "rust"; known: synthetic, go`}},
		{"a service client with a name", "    - name: db\n      instances: 2", "    - name: db\n      client: {name: x, timeout: -1s}\n      instances: 2",
			[]string{`client.name: a service's client is named after its instances; remove name`, `client.timeout: must not be negative, got -1s`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(graphBase, c.old, c.new, 1)
			require.NotEqual(t, graphBase, src, "the case changes nothing")
			_, err := scenario.Parse("g.yaml", []byte(src))
			require.Error(t, err)
			var list scenario.ErrorList
			require.True(t, errors.As(err, &list), "%v", err)
			require.Len(t, list, len(c.want), "%v", err)
			for i, w := range c.want {
				assert.Contains(t, list[i].Error(), w)
			}
		})
	}
	_, err := scenario.Parse("g.yaml", []byte(graphBase))
	require.NoError(t, err)
}

// chain is api -> mid -> db; db takes dbLatency; the client gives up
