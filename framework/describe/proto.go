package describe

import (
	"reflect"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/microsim/microsim/framework/registry"
)

// proto describes a protobuf message type (pt is a pointer type
// implementing proto.Message) through its descriptor.
func (w *walker) proto(pt reflect.Type, lvl int) *registry.Shape {
	m, ok := reflect.New(pt.Elem()).Interface().(proto.Message)
	if !ok {
		return &registry.Shape{Type: "any", Ref: ref(pt.String())}
	}
	return w.message(m.ProtoReflect().Descriptor(), lvl)
}

// message describes the generated struct of md as encoding/json sees it.
func (w *walker) message(md protoreflect.MessageDescriptor, lvl int) *registry.Shape {
	s, ok := w.enter(string(md.FullName()), lvl)
	if !ok {
		return s
	}
	defer w.leave()
	fields := md.Fields()
	seen := map[protoreflect.FullName]bool{}
	for i := range fields.Len() {
		fd := fields.Get(i)
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			if !seen[od.FullName()] {
				seen[od.FullName()] = true
				w.add(s, string(od.Name()), &registry.Shape{Type: "any", Format: "oneof"})
			}
			continue
		}
		w.add(s, string(fd.Name()), w.field(fd, lvl+1))
	}
	return s
}

// field describes one field of a message.
func (w *walker) field(fd protoreflect.FieldDescriptor, lvl int) *registry.Shape {
	switch {
	case fd.IsMap():
		return w.protoContainer("map", fd.MapValue(), lvl)
	case fd.IsList():
		return w.protoContainer("array", fd, lvl)
	}
	return w.kind(fd, lvl)
}

// protoContainer describes a repeated field or a map of elem; at the depth
// limit only one of scalars is still described.
func (w *walker) protoContainer(kind string, elem protoreflect.FieldDescriptor, lvl int) *registry.Shape {
	e := w.kind(elem, lvl+1)
	if lvl >= w.depth && !isScalar(e) {
		return &registry.Shape{Type: kind, Truncated: true}
	}
	return &registry.Shape{Type: kind, Elem: e}
}

// kind describes a single value of fd's kind.
func (w *walker) kind(fd protoreflect.FieldDescriptor, lvl int) *registry.Shape {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return &registry.Shape{Type: "boolean"}
	case protoreflect.EnumKind:
		return &registry.Shape{Type: "integer", Format: "enum", Ref: ref(string(fd.Enum().FullName()))}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return &registry.Shape{Type: "number"}
	case protoreflect.StringKind:
		return &registry.Shape{Type: "string"}
	case protoreflect.BytesKind:
		return &registry.Shape{Type: "string", Format: "base64"}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return w.message(fd.Message(), lvl)
	}
	return &registry.Shape{Type: "integer"} // the 32- and 64-bit integer kinds
}
