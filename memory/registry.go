package memory

import "github.com/microsim/microsim/framework/registry"

// Placeholder: replaced by the in-memory registry implementation.

type registryState struct{}

func newRegistryState(n *Network) *registryState { return &registryState{} }
func (s *registryState) close()                  {}
func newHostRegistry(h *Host) registry.Registry  { return nil }
