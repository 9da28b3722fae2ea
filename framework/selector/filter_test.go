package selector_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
)

// filterInput is two versions of "svc"; v2 declares endpoint Greet, and
// node a-0001 / b-0000 carry zone=west.
func filterInput() []*registry.Service {
	a := nodes("a", 2)
	a[1].Metadata = map[string]string{"zone": "west"}
	b := nodes("b", 2)
	b[0].Metadata = map[string]string{"zone": "west"}
	b[1].Metadata = map[string]string{"zone": "east"}
	return []*registry.Service{
		{Name: "svc", Version: "v1", Nodes: a, Endpoints: []*registry.Endpoint{{Name: "Hello"}}},
		{Name: "svc", Version: "v2", Nodes: b, Endpoints: []*registry.Endpoint{{Name: "Hello"}, {Name: "Greet"}}},
	}
}

func copyAll(in []*registry.Service) []*registry.Service {
	out := make([]*registry.Service, len(in))
	for i, s := range in {
		out[i] = s.Copy()
	}
	return out
}

func nodeIDs(svcs []*registry.Service) []string {
	var out []string
	for _, s := range svcs {
		out = append(out, ids(s.Nodes)...)
	}
	return out
}

func TestFilters(t *testing.T) {
	cases := []struct {
		name string
		f    selector.Filter
		want []string
	}{
		{"version v2", selector.FilterVersion("v2"), []string{"b-0000", "b-0001"}},
		{"version v1 or v2", selector.FilterVersion("v1", "v2"), []string{"a-0000", "a-0001", "b-0000", "b-0001"}},
		{"version none", selector.FilterVersion("v3"), nil},
		{"label zone=west", selector.FilterLabel("zone", "west"), []string{"a-0001", "b-0000"}},
		{"label zone=north", selector.FilterLabel("zone", "north"), nil},
		{"label empty value needs the key", selector.FilterLabel("zone", ""), nil},
		{"endpoint Greet", selector.FilterEndpoint("Greet"), []string{"b-0000", "b-0001"}},
		{"endpoint Hello", selector.FilterEndpoint("Hello"), []string{"a-0000", "a-0001", "b-0000", "b-0001"}},
		{"endpoint Missing", selector.FilterEndpoint("Missing"), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := filterInput()
			orig := copyAll(in)
			got := c.f(in)
			assert.Equal(t, c.want, nodeIDs(got))
			assert.Equal(t, orig, in, "filter modified its input")
		})
	}
}

func TestFilterKeepsServiceFields(t *testing.T) {
	got := selector.FilterLabel("zone", "east")(filterInput())
	if assert.Len(t, got, 1) {
		assert.Equal(t, "v2", got[0].Version)
		assert.Len(t, got[0].Endpoints, 2)
	}
}

func TestFiltersCompose(t *testing.T) {
	in := filterInput()
	got := selector.FilterLabel("zone", "west")(selector.FilterVersion("v2")(in))
	assert.Equal(t, []string{"b-0000"}, nodeIDs(got))
}

func TestFiltersOnEmptyInput(t *testing.T) {
	for _, f := range []selector.Filter{selector.FilterVersion("v1"), selector.FilterLabel("k", "v"), selector.FilterEndpoint("e")} {
		assert.Empty(t, f(nil))
	}
}
