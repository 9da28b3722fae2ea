package consul

import (
	"context"
	"fmt"

	"github.com/hashicorp/consul/api"

	"github.com/microsim/microsim/framework/registry"
)

// Register adds or refreshes every node of s as a Consul service instance.
// With a TTL (registry.WithTTL) the instance gets a TTL check, and Register
// on an existing node re-registers it and passes the check, so calling
// Register again before the TTL passes keeps the node alive (and revives an
// expired one). Blocks for two round trips per node (one without a TTL).
func (r *Registry) Register(ctx context.Context, s *registry.Service, opts ...registry.RegisterOption) error {
	if err := registry.Validate(s); err != nil {
		return err
	}
	if err := validUTF8(s); err != nil {
		return err
	}
	var o registry.RegisterOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.TTL < 0 {
		return fmt.Errorf("%w: negative TTL %v", registry.ErrInvalid, o.TTL)
	}
	if r.isClosed() {
		return errClosed
	}
	regs := make([]*api.AgentServiceRegistration, len(s.Nodes))
	for i, n := range s.Nodes {
		reg, err := r.registration(s, n, o.TTL)
		if err != nil {
			return err
		}
		regs[i] = reg
	}
	agent := r.client.Agent()
	for i, reg := range regs {
		op := "register " + reg.ID
		opts := api.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(ctx)
		if err := agent.ServiceRegisterOpts(reg, opts); err != nil {
			return wrap(ctx, op, err)
		}
		if reg.Check != nil {
			// Re-registration keeps a check's previous status: pass it now.
			q := (&api.QueryOptions{}).WithContext(ctx)
			if err := agent.UpdateTTLOpts(reg.Check.CheckID, "", api.HealthPassing, q); err != nil {
				return wrap(ctx, op, err)
			}
		}
		one := s.CopyWithoutNodes()
		one.Nodes = []*registry.Node{s.Nodes[i].Copy()}
		r.noteWrite(s.Name, s.Nodes[i].ID, one)
	}
	return nil
}

// Deregister removes the nodes of s from the agent. Unknown nodes are not an
// error. Blocks for a round trip per node.
func (r *Registry) Deregister(ctx context.Context, s *registry.Service) error {
	if s == nil || s.Name == "" {
		return fmt.Errorf("%w: deregister needs a service name", registry.ErrInvalid)
	}
	if r.isClosed() {
		return errClosed
	}
	agent := r.client.Agent()
	for _, n := range s.Nodes {
		if n == nil || n.ID == "" {
			return fmt.Errorf("%w: service %q: deregister needs node IDs", registry.ErrInvalid, s.Name)
		}
		id := serviceID(s.Name, n.ID)
		err := agent.ServiceDeregisterOpts(id, (&api.QueryOptions{}).WithContext(ctx))
		if err != nil && !isNotFound(err) {
			return wrap(ctx, "deregister "+id, err)
		}
		r.noteWrite(s.Name, n.ID, nil)
	}
	return nil
}
