package consul

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/consul/api"

	"github.com/microsim/microsim/framework/registry"
)

// Consul's limits on service Meta values, and how many chunks a record may
// use (Consul allows 64 Meta pairs; a few stay free for other tools).
const (
	metaValueMax = 512
	// MaxRecordChunks is how many Meta values of 512 bytes a node's record
	// (version, metadata, endpoints, node metadata) may take.
	MaxRecordChunks = 60
	metaKeyPrefix   = "microsim-"
)

// record is what a Consul service instance carries in its Meta. No field
// has omitempty: nil and empty maps and slices must round-trip.
type record struct {
	ID        string            `json:"id"`
	Address   string            `json:"addr"`
	Version   string            `json:"ver"`
	Metadata  map[string]string `json:"meta"`
	Endpoints []*endpoint       `json:"eps"`
	NodeMeta  map[string]string `json:"node_meta"`
}

type endpoint struct {
	Name     string            `json:"name"`
	Request  string            `json:"req"`
	Response string            `json:"resp"`
	Metadata map[string]string `json:"meta"`
	// The shapes are bounded by framework/describe (a few KiB per endpoint).
	RequestShape  *registry.Shape `json:"req_shape"`
	ResponseShape *registry.Shape `json:"resp_shape"`
}

// serviceID is the Consul service ID of node n of service name: unique per
// agent, unambiguous (QueryEscape escapes the ':' separator) and free of '/'.
func serviceID(name, nodeID string) string {
	return url.QueryEscape(name) + ":" + url.QueryEscape(nodeID)
}

// checkID is the Consul check ID of a service instance's TTL check.
func checkID(serviceID string) string { return "service:" + serviceID }

// registration builds the Consul registration of node n of s.
func (r *Registry) registration(s *registry.Service, n *registry.Node, ttl time.Duration) (*api.AgentServiceRegistration, error) {
	meta, err := encodeRecord(s, n)
	if err != nil {
		return nil, err
	}
	id := serviceID(s.Name, n.ID)
	reg := &api.AgentServiceRegistration{
		ID:   id,
		Name: s.Name,
		Tags: []string{r.tag},
		Meta: meta,
	}
	if host, port, err := net.SplitHostPort(n.Address); err == nil {
		if p, err := strconv.ParseUint(port, 10, 16); err == nil {
			reg.Address, reg.Port = host, int(p)
		}
	}
	if ttl > 0 {
		reg.Check = &api.AgentServiceCheck{
			CheckID:                        checkID(id),
			Name:                           "microsim TTL",
			TTL:                            ttl.String(),
			Status:                         api.HealthPassing,
			DeregisterCriticalServiceAfter: r.deregisterAfter.String(),
		}
	}
	return reg, nil
}

// encodeRecord marshals the record of node n of s into Meta chunks.
func encodeRecord(s *registry.Service, n *registry.Node) (map[string]string, error) {
	rec := record{ID: n.ID, Address: n.Address, Version: s.Version, Metadata: s.Metadata, NodeMeta: n.Metadata}
	if s.Endpoints != nil {
		rec.Endpoints = make([]*endpoint, len(s.Endpoints))
		for i, e := range s.Endpoints {
			if e != nil {
				rec.Endpoints[i] = &endpoint{Name: e.Name, Request: e.Request, Response: e.Response, Metadata: e.Metadata,
					RequestShape: e.RequestShape, ResponseShape: e.ResponseShape}
			}
		}
	}
	b, err := json.Marshal(&rec)
	if err != nil {
		return nil, fmt.Errorf("%w: service %q node %q: %v", registry.ErrInvalid, s.Name, n.ID, err)
	}
	meta := make(map[string]string)
	for i := 0; len(b) > 0; i++ {
		if i == MaxRecordChunks {
			return nil, fmt.Errorf("%w: service %q node %q: metadata and endpoints need more than %d bytes in Consul meta",
				registry.ErrInvalid, s.Name, n.ID, MaxRecordChunks*metaValueMax)
		}
		end := min(len(b), metaValueMax)
		for end < len(b) && !utf8.RuneStart(b[end]) {
			end-- // never cut a rune: Consul's JSON API would mangle it
		}
		meta[metaKeyPrefix+strconv.Itoa(i)] = string(b[:end])
		b = b[end:]
	}
	return meta, nil
}

// decodeEntry turns a Consul health entry back into a one-node service. It
// reports false for instances that are not ours or carry no valid record.
func decodeEntry(e *api.ServiceEntry) (*registry.Service, uint64, bool) {
	if e == nil || e.Service == nil {
		return nil, 0, false
	}
	var b strings.Builder
	for i := 0; ; i++ {
		chunk, ok := e.Service.Meta[metaKeyPrefix+strconv.Itoa(i)]
		if !ok {
			break
		}
		b.WriteString(chunk)
	}
	var rec record
	if b.Len() == 0 || json.Unmarshal([]byte(b.String()), &rec) != nil || rec.ID == "" {
		return nil, 0, false
	}
	s := &registry.Service{Name: e.Service.Service, Version: rec.Version, Metadata: rec.Metadata}
	if rec.Endpoints != nil {
		s.Endpoints = make([]*registry.Endpoint, len(rec.Endpoints))
		for i, ep := range rec.Endpoints {
			if ep != nil {
				s.Endpoints[i] = &registry.Endpoint{Name: ep.Name, Request: ep.Request, Response: ep.Response, Metadata: ep.Metadata,
					RequestShape: ep.RequestShape, ResponseShape: ep.ResponseShape}
			}
		}
	}
	s.Nodes = []*registry.Node{{ID: rec.ID, Address: rec.Address, Metadata: rec.NodeMeta}}
	return s, e.Service.ModifyIndex, true
}

// validUTF8 checks every string of s: Consul's JSON API cannot carry others.
func validUTF8(s *registry.Service) error {
	bad := func(what, v string) error {
		if utf8.ValidString(v) {
			return nil
		}
		return fmt.Errorf("%w: service %q: %s %q is not valid UTF-8", registry.ErrInvalid, s.Name, what, v)
	}
	check := func(what string, m map[string]string) error {
		for k, v := range m {
			if err := bad(what+" key", k); err != nil {
				return err
			}
			if err := bad(what+" value", v); err != nil {
				return err
			}
		}
		return nil
	}
	errs := []error{bad("name", s.Name), bad("version", s.Version), check("metadata", s.Metadata)}
	for _, e := range s.Endpoints {
		if e != nil {
			errs = append(errs, bad("endpoint", e.Name), bad("request", e.Request), bad("response", e.Response), check("endpoint metadata", e.Metadata))
		}
	}
	for _, n := range s.Nodes {
		errs = append(errs, bad("node ID", n.ID), bad("node address", n.Address), check("node metadata", n.Metadata))
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
