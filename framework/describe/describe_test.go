package describe_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/microsim/microsim/framework/describe"
	"github.com/microsim/microsim/framework/registry"
)

type Base struct {
	ID string `json:"id"`
}

type Item struct {
	SKU   string `json:"sku"`
	Count int    `json:"count"`
}

type Order struct {
	Base
	Customer string            `json:"customer"`
	Items    []Item            `json:"items,omitempty"`
	Tags     map[string]string `json:"tags"`
	Paid     bool
	Total    float64         `json:"total"`
	Big      int64           `json:"big,string"`
	Blob     []byte          `json:"blob"`
	At       time.Time       `json:"at"`
	Wait     time.Duration   `json:"wait"`
	Extra    any             `json:"extra"`
	Raw      json.RawMessage `json:"raw"`
	Skipped  string          `json:"-"`
	//lint:ignore U1000 an unexported field is what the description must leave out
	hidden string
}

type Node struct {
	Name     string  `json:"name"`
	Children []*Node `json:"children"`
}

func find(t *testing.T, s *registry.Shape, name string) *registry.Shape {
	t.Helper()
	for _, f := range s.Fields {
		if f.Name == name {
			return &f.Shape
		}
	}
	t.Fatalf("no field %q in %+v", name, s)
	return nil
}

func names(s *registry.Shape) []string {
	var out []string
	for _, f := range s.Fields {
		out = append(out, f.Name)
	}
	return out
}

func TestGoStruct(t *testing.T) {
	s := describe.Type(reflect.TypeFor[*Order]())
	require.Equal(t, "object", s.Type)
	require.Equal(t, "describe_test.Order", s.Ref)
	require.False(t, s.Truncated)
	require.Equal(t, []string{"id", "customer", "items", "tags", "Paid", "total", "big", "blob", "at", "wait", "extra", "raw"}, names(s))
	items := find(t, s, "items")
	require.Equal(t, "array", items.Type)
	require.Equal(t, []string{"sku", "count"}, names(items.Elem))
	require.Equal(t, "integer", find(t, items.Elem, "count").Type)
	require.Equal(t, registry.Shape{Type: "map", Elem: &registry.Shape{Type: "string"}}, *find(t, s, "tags"))
	require.Equal(t, "boolean", find(t, s, "Paid").Type)
	require.Equal(t, "number", find(t, s, "total").Type)
	require.Equal(t, registry.Shape{Type: "string", Format: "integer"}, *find(t, s, "big"))
	require.Equal(t, registry.Shape{Type: "string", Format: "base64"}, *find(t, s, "blob"))
	require.Equal(t, registry.Shape{Type: "string", Format: "date-time"}, *find(t, s, "at"))
	require.Equal(t, registry.Shape{Type: "integer", Format: "duration"}, *find(t, s, "wait"))
	require.Equal(t, "any", find(t, s, "extra").Type)
	require.Equal(t, "any", find(t, s, "raw").Type)
	require.Nil(t, describe.Type(nil))
}

func TestRecursiveTypeIsCut(t *testing.T) {
	s := describe.Type(reflect.TypeFor[*Node]())
	children := find(t, s, "children")
	require.Equal(t, "array", children.Type)
	require.Equal(t, registry.Shape{Type: "object", Ref: "describe_test.Node", Truncated: true}, *children.Elem)
}

// deep nests 12 levels of maps of slices.
type deep = map[string][][]map[string][][]map[string][][]map[string][][]int

func TestDepthBound(t *testing.T) {
	s := describe.Type(reflect.TypeFor[deep]())
	levels := 0
	for ; s.Elem != nil; s = s.Elem {
		levels++
	}
	require.Equal(t, describe.MaxDepth, levels)
	require.True(t, s.Truncated)
}

func TestFieldAndSizeBound(t *testing.T) {
	// 200 fields with long names: more than MaxFields and far more than MaxBytes.
	fields := make([]reflect.StructField, 200)
	for i := range fields {
		fields[i] = reflect.StructField{Name: "F" + strings.Repeat("x", 40) + string(rune('A'+i%26)) + strings.Repeat("y", i%7) + itoa(i), Type: reflect.TypeFor[[]Item]()}
	}
	wide := reflect.StructOf(fields)
	s := describe.Type(wide)
	require.LessOrEqual(t, describe.Size(s), describe.MaxBytes)
	require.True(t, s.Truncated)
	require.NotEmpty(t, s.Fields, "a wide type keeps some of its fields")
	require.Less(t, len(s.Fields), describe.MaxFields)
}

func itoa(i int) string {
	return string(rune('0'+i/100)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10))
}

func TestProtoMessages(t *testing.T) {
	ts := describe.Type(reflect.TypeFor[*timestamppb.Timestamp]())
	require.Equal(t, "google.protobuf.Timestamp", ts.Ref)
	require.Equal(t, []string{"seconds", "nanos"}, names(ts))
	require.Equal(t, "integer", find(t, ts, "seconds").Type)

	st := describe.Type(reflect.TypeFor[*structpb.Struct]())
	fieldsMap := find(t, st, "fields")
	require.Equal(t, "map", fieldsMap.Type)
	require.Equal(t, "google.protobuf.Value", fieldsMap.Elem.Ref)
	require.Equal(t, registry.Shape{Type: "any", Format: "oneof"}, *find(t, fieldsMap.Elem, "kind"))

	// FileDescriptorProto is large and recursive (DescriptorProto nests itself).
	fd := describe.Type(reflect.TypeFor[*descriptorpb.FileDescriptorProto]())
	require.LessOrEqual(t, describe.Size(fd), describe.MaxBytes)
	require.Equal(t, "google.protobuf.FileDescriptorProto", fd.Ref)
	require.Contains(t, names(fd), "message_type")
	require.Contains(t, names(fd), "syntax")
	// The shape is valid JSON that decodes back to the same value.
	b, err := json.Marshal(fd)
	require.NoError(t, err)
	var back registry.Shape
	require.NoError(t, json.Unmarshal(b, &back))
	require.True(t, back.Equal(fd))
	require.True(t, fd.Copy().Equal(fd))
}

func TestBudget(t *testing.T) {
	shape := describe.Type(reflect.TypeFor[*descriptorpb.FileDescriptorProto]())
	per := describe.Size(shape)
	sum := func(eps []*registry.Endpoint) (total, markers, nils int) {
		for _, e := range eps {
			for _, s := range []*registry.Shape{e.RequestShape, e.ResponseShape} {
				switch {
				case s == nil:
					nils++
				case s.Truncated && s.Fields == nil:
					markers++
					total += describe.Size(s)
				default:
					total += describe.Size(s)
				}
			}
		}
		return total, markers, nils
	}
	var eps []*registry.Endpoint
	for range 20 {
		eps = append(eps, &registry.Endpoint{Name: "S.M", RequestShape: shape, ResponseShape: shape})
	}
	cut := describe.Budget(eps)
	kept := describe.MaxServiceBytes / per // whole shapes
	require.Equal(t, 40-kept, cut)
	total, markers, nils := sum(eps)
	require.LessOrEqual(t, total, describe.MaxServiceBytes)
	require.Greater(t, total, describe.MaxServiceBytes-per, "the budget is used, not wasted")
	require.Equal(t, (describe.MaxServiceBytes-kept*per)/len(`{"type":"object","truncated":true}`), markers)
	require.Equal(t, cut-markers, nils)
	firstCut := eps[kept/2].RequestShape // shapes run request, response, request, ...
	if kept%2 == 1 {
		firstCut = eps[kept/2].ResponseShape
	}
	require.Equal(t, &registry.Shape{Type: "object", Truncated: true}, firstCut, "the first cut is a marker")
	require.Same(t, shape, eps[0].RequestShape)
}

func TestScalarContainersSurviveTheDepthLimit(t *testing.T) {
	fd := describe.Type(reflect.TypeFor[*descriptorpb.FileDescriptorProto]())
	require.Equal(t, registry.Shape{Type: "array", Elem: &registry.Shape{Type: "string"}}, *find(t, fd, "dependency"))
	require.Equal(t, registry.Shape{Type: "array", Elem: &registry.Shape{Type: "integer"}}, *find(t, fd, "public_dependency"))
	mt := find(t, fd, "message_type")
	require.Equal(t, "array", mt.Type)
	require.LessOrEqual(t, describe.Size(fd), describe.MaxBytes)
}

// Wide has 16 fields of T: Wide nested eight deep has 16^8 leaves.
type Wide[T any] struct {
	A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P T
}

// TestWideAndDeepTypeIsCheap: a type whose full tree has 16^8 (4e9)
// leaves is described in bounded time and size.
func TestWideAndDeepTypeIsCheap(t *testing.T) {
	typ := reflect.TypeFor[*Wide[Wide[Wide[Wide[Wide[Wide[Wide[Wide[string]]]]]]]]]()
	start := time.Now()
	s := describe.Type(typ)
	require.Less(t, time.Since(start), time.Second)
	require.LessOrEqual(t, describe.Size(s), describe.MaxBytes)
	require.NotEmpty(t, s.Fields)
	require.True(t, s.Truncated, "fields were left out to fit")
	require.Equal(t, "object", s.Fields[0].Type)
}

// sizeShape is a shape holding every kind of member, with s in each of
// its strings.
func sizeShape(s string, truncated bool) *registry.Shape {
	leaf := &registry.Shape{Type: s, Format: s, Ref: s, Truncated: truncated}
	return &registry.Shape{Type: "object", Ref: s, Fields: []*registry.Field{
		{Name: s, Shape: *leaf},
		nil,
		{Name: "list", Shape: registry.Shape{Type: "array", Elem: leaf}},
		{Name: "", Shape: registry.Shape{Type: ""}},
	}, Elem: &registry.Shape{Type: "map", Elem: leaf}, Truncated: !truncated}
}

// Size counts exactly what json.Marshal writes: for described types, and
// for strings that need every kind of escape.
func TestSizeIsJSONLength(t *testing.T) {
	shapes := []*registry.Shape{nil, {}, {Type: "string"}, {Type: "object", Fields: []*registry.Field{}}}
	for _, v := range []any{Order{}, &Order{}, []byte(nil), map[string][]Item{}, time.Duration(0), &structpb.Struct{}, &descriptorpb.FileDescriptorProto{}} {
		shapes = append(shapes, describe.Type(reflect.TypeOf(v)))
	}
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "\b\f\n\r\t", "\x00\x01\x1f\x7f", "<a href='x'>&amp;</a>",
		"\u2028\u2029", "héllo, 世界 🙂", "bad \xff\xfe utf-8 \xe2\x82", "\xed\xa0\x80 surrogate"} {
		shapes = append(shapes, sizeShape(s, false), sizeShape(s, true))
	}
	for _, s := range shapes {
		b, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, len(b), describe.Size(s), "%s", b)
	}
}

func FuzzSize(f *testing.F) {
	f.Add("object", "Order", false)
	f.Add("<\"\\\n\u2028\xff>", "\x00", true)
	f.Fuzz(func(t *testing.T, a, b string, truncated bool) {
		s := sizeShape(a, truncated)
		s.Fields[0].Name = b
		out, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, len(out), describe.Size(s), "%s", out)
	})
}
