package consul

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/consul/api"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/microsim/microsim/framework/describe"
	"github.com/microsim/microsim/framework/registry"
)

func TestRecordRoundTrip(t *testing.T) {
	long := strings.Repeat("ab€🙂", 400) // multi-byte runes straddle chunk ends
	for name, s := range map[string]*registry.Service{
		"nil maps": {Name: "s", Nodes: []*registry.Node{{ID: "n", Address: "a:1"}}},
		"empty maps": {Name: "s", Metadata: map[string]string{}, Endpoints: []*registry.Endpoint{},
			Nodes: []*registry.Node{{ID: "n", Address: "a:1", Metadata: map[string]string{}}}},
		"long": {Name: "s", Version: long, Metadata: map[string]string{long: long},
			Endpoints: []*registry.Endpoint{nil, {Name: "E", Request: "<&>", Metadata: map[string]string{"k": long}}},
			Nodes:     []*registry.Node{{ID: "n:/?", Address: "not host port", Metadata: map[string]string{"x": long}}}},
		"shapes": {Name: "s", Endpoints: []*registry.Endpoint{{Name: "E.M", Request: "p.Req",
			RequestShape: &registry.Shape{Type: "object", Ref: "p.Req", Fields: []*registry.Field{
				{Name: "names", Shape: registry.Shape{Type: "array", Elem: &registry.Shape{Type: "string"}}},
				{Name: "next", Shape: registry.Shape{Type: "object", Ref: "p.Req", Truncated: true}}}},
			ResponseShape: &registry.Shape{Type: "map", Elem: &registry.Shape{Type: "integer"}}}},
			Nodes: []*registry.Node{{ID: "n", Address: "a:1"}}},
	} {
		t.Run(name, func(t *testing.T) {
			meta, err := encodeRecord(s, s.Nodes[0])
			require.NoError(t, err)
			require.LessOrEqual(t, len(meta), MaxRecordChunks)
			for k, v := range meta {
				require.LessOrEqual(t, len(v), metaValueMax, k)
				require.True(t, utf8.ValidString(v), k)
			}
			got, _, ok := decodeEntry(&api.ServiceEntry{Service: &api.AgentService{Service: s.Name, Meta: meta}})
			require.True(t, ok)
			require.Equal(t, s, got)
		})
	}
}

func TestRecordLimits(t *testing.T) {
	big := &registry.Service{Name: "s", Metadata: map[string]string{"k": strings.Repeat("x", MaxRecordChunks*metaValueMax)},
		Nodes: []*registry.Node{{ID: "n", Address: "a:1"}}}
	_, err := encodeRecord(big, big.Nodes[0])
	require.ErrorIs(t, err, registry.ErrInvalid)

	for _, meta := range []map[string]string{nil, {"microsim-0": "{"}, {"microsim-0": `{"id":""}`}, {"other": "x"}} {
		_, _, ok := decodeEntry(&api.ServiceEntry{Service: &api.AgentService{Service: "s", Meta: meta}})
		require.False(t, ok, "%v", meta)
	}
}

func TestServiceID(t *testing.T) {
	require.NotEqual(t, serviceID("a:b", "c"), serviceID("a", "b:c"))
	require.NotContains(t, serviceID("a/b", "c/d"), "/")
	require.Equal(t, "greeter:n1", serviceID("greeter", "n1"))
}

// TestDescribedServiceFitsConsul: a service with many endpoints of large,
// recursive protobuf types, described and budgeted as a server does, fits
// in a Consul record.
func TestDescribedServiceFitsConsul(t *testing.T) {
	shape := describe.Type(reflect.TypeFor[*descriptorpb.FileDescriptorProto]())
	s := &registry.Service{Name: "big", Nodes: []*registry.Node{{ID: "n", Address: "a:1"}}}
	for i := range 60 {
		s.Endpoints = append(s.Endpoints, &registry.Endpoint{Name: "Handler.Method" + strconv.Itoa(i),
			Request: "descriptorpb.FileDescriptorProto", Response: "descriptorpb.FileDescriptorProto",
			RequestShape: shape, ResponseShape: shape})
	}
	cut := describe.Budget(s.Endpoints)
	require.Positive(t, cut)
	meta, err := encodeRecord(s, s.Nodes[0])
	require.NoError(t, err)
	require.LessOrEqual(t, len(meta), MaxRecordChunks)
	got, _, ok := decodeEntry(&api.ServiceEntry{Service: &api.AgentService{Service: s.Name, Meta: meta}})
	require.True(t, ok)
	require.Equal(t, s, got)
}
