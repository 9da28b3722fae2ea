package selector_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
)

// nodes returns n nodes "<prefix>-00".."<prefix>-(n-1)", zero padded so
// that ID order is index order.
func nodes(prefix string, n int) []*registry.Node {
	out := make([]*registry.Node, n)
	for i := range out {
		id := fmt.Sprintf("%s-%04d", prefix, i)
		out[i] = &registry.Node{ID: id, Address: id + ":1"}
	}
	return out
}

func service(name, version string, ns ...*registry.Node) *registry.Service {
	return &registry.Service{Name: name, Version: version, Nodes: ns}
}

// register registers s on r, failing the test on error.
func register(t testing.TB, r registry.Registry, s *registry.Service) {
	t.Helper()
	require.NoError(t, r.Register(context.Background(), s))
}

// newSelector returns a selector over r that the test closes.
func newSelector(t testing.TB, r registry.Registry, opts ...selector.Option) selector.Selector {
	t.Helper()
	s, err := selector.New(r, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// pick selects service and returns the first node's ID.
func pick(t testing.TB, s selector.Selector, service string, opts ...selector.SelectOption) string {
	t.Helper()
	p, err := s.Select(context.Background(), service, opts...)
	require.NoError(t, err)
	defer p.Release()
	n, err := p.Next()
	require.NoError(t, err)
	return n.ID
}

// drain calls next until it fails and returns the IDs it gave and the error.
func drain(next selector.Picker) ([]string, error) {
	var ids []string
	for {
		n, err := next.Next()
		if err != nil {
			return ids, err
		}
		ids = append(ids, n.ID)
	}
}

func ids(ns []*registry.Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.ID
	}
	return out
}

// sleepSecond advances a bubble's clock by a second.
func sleepSecond() { time.Sleep(time.Second) }
