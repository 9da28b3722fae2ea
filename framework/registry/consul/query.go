package consul

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/hashicorp/consul/api"

	"github.com/microsim/microsim/framework/registry"
)

// listConcurrency bounds the health queries ListServices runs at once.
const listConcurrency = 8

// GetService returns the passing nodes of the named service, one Service
// per version (sorted by version, nodes by ID). Service data (metadata,
// endpoints) of a version is that of its most recently modified node. An
// expired (critical) node is not returned. Blocks for a round trip.
func (r *Registry) GetService(ctx context.Context, name string) ([]*registry.Service, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty service name", registry.ErrInvalid)
	}
	if r.isClosed() {
		return nil, errClosed
	}
	nodes, _, err := r.health(ctx, name, 0)
	if err != nil {
		return nil, err
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("%w: %q", registry.ErrNotFound, name)
	}
	return group(nodes), nil
}

// ListServices returns every service with a passing node, one Service per
// name and version, without nodes, sorted. Blocks for one round trip on the
// catalog and then one per service (up to eight at once).
func (r *Registry) ListServices(ctx context.Context) ([]*registry.Service, error) {
	if r.isClosed() {
		return nil, errClosed
	}
	names, _, err := r.services(ctx, 0)
	if err != nil {
		return nil, err
	}
	snaps, err := r.healthAll(ctx, names)
	if err != nil {
		return nil, err
	}
	out := []*registry.Service{}
	for _, name := range names {
		for _, s := range group(snaps[name].nodes) {
			out = append(out, s.CopyWithoutNodes())
		}
	}
	return out, nil
}

// instance is one decoded passing instance.
type instance struct {
	svc    *registry.Service // exactly one node
	modify uint64            // Consul ModifyIndex
}

// snapshot is one health query's result.
type snapshot struct {
	nodes map[string]instance // by node ID
	index uint64
}

// health returns the passing instances of the named service that carry r's
// tag, keyed by node ID. index > 0 makes it a blocking query.
func (r *Registry) health(ctx context.Context, name string, index uint64) (map[string]instance, uint64, error) {
	q := &api.QueryOptions{WaitIndex: index}
	if index > 0 {
		q.WaitTime = blockingWait
	}
	entries, meta, err := r.client.Health().Service(name, r.tag, true, q.WithContext(ctx))
	if err != nil {
		return nil, 0, wrap(ctx, "health "+name, err)
	}
	nodes := make(map[string]instance, len(entries))
	for _, e := range entries {
		s, modify, ok := decodeEntry(e)
		// Consul matches service names case-insensitively; we do not.
		if !ok || s.Name != name {
			continue
		}
		id := s.Nodes[0].ID
		if prev, dup := nodes[id]; dup && prev.modify > modify {
			continue
		}
		nodes[id] = instance{svc: s, modify: modify}
	}
	return nodes, meta.LastIndex, nil
}

// healthAll runs health for each name, a few at a time.
func (r *Registry) healthAll(ctx context.Context, names []string) (map[string]snapshot, error) {
	out := make(map[string]snapshot, len(names))
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, listConcurrency)
	)
	for _, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			nodes, idx, err := r.health(ctx, name, 0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				firstErr = cmp.Or(firstErr, err)
				return
			}
			out[name] = snapshot{nodes: nodes, index: idx}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

// services returns the sorted names of the catalog's services that carry
// r's tag. index > 0 makes it a blocking query.
func (r *Registry) services(ctx context.Context, index uint64) ([]string, uint64, error) {
	q := &api.QueryOptions{WaitIndex: index}
	if index > 0 {
		q.WaitTime = blockingWait
	}
	all, meta, err := r.client.Catalog().Services(q.WithContext(ctx))
	if err != nil {
		return nil, 0, wrap(ctx, "list services", err)
	}
	var names []string
	for name, tags := range all {
		if slices.Contains(tags, r.tag) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, meta.LastIndex, nil
}

// group turns instances into one Service per version, sorted by version,
// with nodes sorted by ID; each version's data comes from its most recently
// modified node.
func group(nodes map[string]instance) []*registry.Service {
	type acc struct {
		svc    *registry.Service
		modify uint64
	}
	byVersion := make(map[string]*acc)
	for _, in := range nodes {
		a := byVersion[in.svc.Version]
		if a == nil {
			a = &acc{svc: in.svc.CopyWithoutNodes(), modify: in.modify}
			byVersion[in.svc.Version] = a
		} else if in.modify > a.modify {
			nodes := a.svc.Nodes
			a.svc = in.svc.CopyWithoutNodes()
			a.svc.Nodes, a.modify = nodes, in.modify
		}
		a.svc.Nodes = append(a.svc.Nodes, in.svc.Nodes[0].Copy())
	}
	out := make([]*registry.Service, 0, len(byVersion))
	for _, a := range byVersion {
		slices.SortFunc(a.svc.Nodes, func(x, y *registry.Node) int { return cmp.Compare(x.ID, y.ID) })
		out = append(out, a.svc)
	}
	slices.SortFunc(out, func(x, y *registry.Service) int { return cmp.Compare(x.Version, y.Version) })
	return out
}
