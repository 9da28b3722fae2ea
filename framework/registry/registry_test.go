package registry_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/registry/registrymock"
)

func TestValidateNamesTheProblem(t *testing.T) {
	for want, s := range map[string]*registry.Service{
		"nil service":          nil,
		"empty name":           {Nodes: []*registry.Node{{ID: "a", Address: "h:1"}}},
		`"svc" has no nodes`:   {Name: "svc"},
		"node 0 is nil":        {Name: "svc", Nodes: []*registry.Node{nil}},
		"node 0 has no ID":     {Name: "svc", Nodes: []*registry.Node{{Address: "h:1"}}},
		`"a" has no address`:   {Name: "svc", Nodes: []*registry.Node{{ID: "a"}}},
		`lists node "a" twice`: {Name: "svc", Nodes: []*registry.Node{{ID: "a", Address: "h:1"}, {ID: "a", Address: "h:2"}}},
	} {
		err := registry.Validate(s)
		require.Error(t, err, want)
		assert.ErrorIs(t, err, registry.ErrInvalid)
		assert.Contains(t, err.Error(), want)
	}
	assert.NoError(t, registry.Validate(&registry.Service{Name: "svc", Nodes: []*registry.Node{{ID: "a", Address: "h:1"}}}))
}

func TestCopyIsDeep(t *testing.T) {
	s := &registry.Service{
		Name: "svc", Version: "v1", Metadata: map[string]string{"k": "v"},
		Endpoints: []*registry.Endpoint{{Name: "E.M", Metadata: map[string]string{"stream": "true"}}},
		Nodes:     []*registry.Node{{ID: "a", Address: "h:1", Metadata: map[string]string{"zone": "z1"}}},
	}
	c := s.Copy()
	require.Equal(t, s, c)
	c.Metadata["k"] = "changed"
	c.Endpoints[0].Metadata["stream"] = "false"
	c.Nodes[0].Metadata["zone"] = "z2"
	assert.Equal(t, "v", s.Metadata["k"])
	assert.Equal(t, "true", s.Endpoints[0].Metadata["stream"])
	assert.Equal(t, "z1", s.Nodes[0].Metadata["zone"])

	w := s.CopyWithoutNodes()
	assert.Nil(t, w.Nodes)
	assert.Len(t, s.Nodes, 1)
	assert.Nil(t, (*registry.Service)(nil).Copy())
}

// The generated mock lets code that depends on a Registry be unit-tested.
func TestMockRegistry(t *testing.T) {
	ctrl := gomock.NewController(t)
	reg := registrymock.NewMockRegistry(ctrl)
	reg.EXPECT().GetService(gomock.Any(), "users").Return(nil, registry.ErrNotFound).Times(1)
	_, err := reg.GetService(context.Background(), "users")
	assert.ErrorIs(t, err, registry.ErrNotFound)
}
