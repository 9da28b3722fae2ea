package resolve_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/internal/resolve"
	"github.com/microsim/microsim/memory"
)

func register(t *testing.T, reg registry.Registry, name string, eps ...string) {
	t.Helper()
	s := &registry.Service{Name: name, Nodes: []*registry.Node{{ID: name + "-1", Address: "h:1"}}}
	for _, e := range eps {
		s.Endpoints = append(s.Endpoints, &registry.Endpoint{Name: e})
	}
	require.NoError(t, reg.Register(t.Context(), s))
}

func TestEndpoint(t *testing.T) {
	net := memory.MustNetwork()
	defer net.Close()
	reg := net.Registry()
	register(t, reg, "greeter", "Greeter.Hello", "Admin.Hello", "Admin.Reset")
	register(t, reg, "go.micro.srv.legacy")
	register(t, reg, "orders", "A.List", "B.List")

	for name, want := range map[string]string{
		"hello": "Greeter.Hello", "HELLO": "Greeter.Hello", "admin.hello": "Admin.Hello", "reset": "Admin.Reset",
	} {
		tg, err := resolve.Endpoint(t.Context(), reg, "greeter", name)
		require.NoError(t, err, name)
		require.Equal(t, want, tg.Endpoint, name)
		require.NotNil(t, tg.Desc)
	}
	tg, err := resolve.Endpoint(t.Context(), reg, "go.micro.srv.legacy", "call")
	require.NoError(t, err)
	require.Equal(t, "Legacy.Call", tg.Endpoint, "micro's naming when no endpoint is listed")
	require.Nil(t, tg.Desc)

	_, err = resolve.Endpoint(t.Context(), reg, "greeter", "helo")
	var re *resolve.Error
	require.True(t, errors.As(err, &re))
	require.ErrorIs(t, err, resolve.ErrEndpointNotFound)
	require.Equal(t, []string{"Admin.Hello", "Admin.Reset", "Greeter.Hello"}, re.Endpoints)
	require.Contains(t, err.Error(), `service "greeter" has no endpoint "helo"; it serves Admin.Hello, Admin.Reset, Greeter.Hello`)

	_, err = resolve.Endpoint(t.Context(), reg, "orders", "list")
	require.ErrorIs(t, err, resolve.ErrAmbiguous)
	require.True(t, errors.As(err, &re))
	require.Equal(t, []string{"A.List", "B.List"}, re.Endpoints)

	_, err = resolve.Endpoint(t.Context(), reg, "greter", "hello")
	require.ErrorIs(t, err, resolve.ErrServiceNotFound)
	require.True(t, errors.As(err, &re))
	require.Equal(t, []string{"greeter"}, re.Suggestions)
	require.EqualError(t, err, `service "greter" is not registered; did you mean greeter?`)
}
