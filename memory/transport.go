package memory

import "github.com/microsim/microsim/framework/transport"

// Placeholder: replaced by the in-memory transport implementation.

type transportState struct{}

func newTransportState(n *Network) *transportState { return &transportState{} }
func (s *transportState) crashHost(host string)    {}
func newHostTransport(h *Host) transport.Transport { return nil }
