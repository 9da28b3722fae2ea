package registry

import "maps"

// Copy returns a deep copy of s.
func (s *Service) Copy() *Service {
	if s == nil {
		return nil
	}
	c := &Service{Name: s.Name, Version: s.Version, Metadata: maps.Clone(s.Metadata)}
	if s.Endpoints != nil {
		c.Endpoints = make([]*Endpoint, len(s.Endpoints))
		for i, e := range s.Endpoints {
			c.Endpoints[i] = e.Copy()
		}
	}
	if s.Nodes != nil {
		c.Nodes = make([]*Node, len(s.Nodes))
		for i, n := range s.Nodes {
			c.Nodes[i] = n.Copy()
		}
	}
	return c
}

// CopyWithoutNodes returns a deep copy of s with no nodes.
func (s *Service) CopyWithoutNodes() *Service {
	if s == nil {
		return nil
	}
	shallow := *s
	shallow.Nodes = nil
	return shallow.Copy()
}

// Copy returns a deep copy of n.
func (n *Node) Copy() *Node {
	if n == nil {
		return nil
	}
	return &Node{ID: n.ID, Address: n.Address, Metadata: maps.Clone(n.Metadata)}
}

// Copy returns a deep copy of e.
func (e *Endpoint) Copy() *Endpoint {
	if e == nil {
		return nil
	}
	return &Endpoint{Name: e.Name, Request: e.Request, Response: e.Response, Metadata: maps.Clone(e.Metadata),
		RequestShape: e.RequestShape.Copy(), ResponseShape: e.ResponseShape.Copy()}
}
