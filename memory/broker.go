package memory

import "github.com/microsim/microsim/framework/broker"

// Placeholder: replaced by the in-memory broker implementation.

type brokerState struct{}

func newBrokerState(n *Network) *brokerState { return &brokerState{} }
func (s *brokerState) crashHost(host string) {}
func newHostBroker(h *Host) broker.Broker    { return nil }
