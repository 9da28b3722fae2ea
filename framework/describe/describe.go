package describe

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/microsim/microsim/framework/registry"
)

// Bounds of one message's description.
const (
	// MaxBytes bounds the JSON encoding of one message's shape.
	MaxBytes = 2048
	// MaxDepth bounds the nesting of objects, arrays and maps.
	MaxDepth = 8
	// MaxFields bounds the fields listed for one object.
	MaxFields = 64
	// maxRef bounds a type name (generic instantiations can be long).
	maxRef = 96
	// maxNodes bounds the fields one walk lists: a shape of MaxBytes holds
	// far fewer (each takes more than 8 bytes), so a walk that reaches it
	// stops descending at once and is retried shallower. It keeps a wide
	// and deep type (64 fields of 64 fields of ...) from costing its full
	// tree before the size is measured.
	maxNodes = MaxBytes / 8
)

var (
	typeTime          = reflect.TypeFor[time.Time]()
	typeDuration      = reflect.TypeFor[time.Duration]()
	typeRaw           = reflect.TypeFor[json.RawMessage]()
	typeJSONMarshaler = reflect.TypeFor[json.Marshaler]()
	typeTextMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	typeProto         = reflect.TypeFor[proto.Message]()
)

// Type returns the shape of the JSON form of values of type t (a handler's
// request or response type, usually a pointer to a struct). The result's
// JSON encoding is at most MaxBytes. A nil t gives nil.
func Type(t reflect.Type) *registry.Shape {
	if t == nil {
		return nil
	}
	for depth := MaxDepth; depth > 0; depth-- {
		w := &walker{depth: depth, fields: MaxFields}
		if s := w.typ(t, 0); !w.over && Size(s) <= MaxBytes {
			return s
		}
	}
	// One level still too large: list fewer fields.
	for fields := MaxFields / 2; fields > 0; fields /= 2 {
		w := &walker{depth: 1, fields: fields}
		if s := w.typ(t, 0); !w.over && Size(s) <= MaxBytes {
			return s
		}
	}
	return (&walker{}).typ(t, 0)
}

// Size is the length of the JSON encoding of s (json.Marshal's), counted
// without encoding it: every server describes each of its endpoints, and
// a world of 1,000 servers did so through the encoder 4,000 times.
func Size(s *registry.Shape) int {
	if s == nil {
		return len("null")
	}
	return objectSize(s, nil)
}

// objectSize is the length of the JSON object of s, led by a "name"
// member when name is not nil (a registry.Field: its Shape's members are
// promoted into it). The members are those of registry.Shape, in its
// order, the omitempty ones only when set.
func objectSize(s *registry.Shape, name *string) int {
	n, members := len("{}"), 0
	member := func(key string, value int) {
		if members > 0 {
			n++ // the comma
		}
		members++
		n += len(key) + len(`"":`) + value
	}
	if name != nil {
		member("name", stringSize(*name))
	}
	member("type", stringSize(s.Type))
	if s.Format != "" {
		member("format", stringSize(s.Format))
	}
	if s.Ref != "" {
		member("ref", stringSize(s.Ref))
	}
	if len(s.Fields) > 0 {
		v := len("[]") + len(s.Fields) - 1
		for _, f := range s.Fields {
			if f == nil {
				v += len("null")
			} else {
				v += objectSize(&f.Shape, &f.Name)
			}
		}
		member("fields", v)
	}
	if s.Elem != nil {
		member("elem", objectSize(s.Elem, nil))
	}
	if s.Truncated {
		member("truncated", len("true"))
	}
	return n
}

// stringSize is the length of s as a JSON string, escaped as
// encoding/json escapes it: '"', the backslash and the control
// characters with a short escape (\b \f \n \r \t) take two bytes; the
// other control characters, '<', '>' and '&' (HTML-safe), U+2028, U+2029
// and each invalid byte (as U+FFFD) take six (\u00XX); the rest is
// copied.
func stringSize(s string) int {
	n := len(`""`)
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			switch {
			case b == '"' || b == '\\' || b == '\b' || b == '\f' || b == '\n' || b == '\r' || b == '\t':
				n += 2
			case b < 0x20 || b == '<' || b == '>' || b == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r == '\u2028', r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}

// walker builds one shape within a depth and a field count.
type walker struct {
	depth  int
	fields int
	active []string // the object types being described, outermost first
	nodes  int      // fields listed so far
	over   bool     // nodes reached maxNodes: the walk stopped descending
}

// typ describes t at nesting level lvl.
func (w *walker) typ(t reflect.Type, lvl int) *registry.Shape {
	for t.Kind() == reflect.Pointer {
		if t.Implements(typeProto) {
			return w.proto(t, lvl)
		}
		t = t.Elem()
	}
	switch {
	case t == typeTime:
		return &registry.Shape{Type: "string", Format: "date-time"}
	case t == typeDuration:
		return &registry.Shape{Type: "integer", Format: "duration"}
	case t == typeRaw:
		return &registry.Shape{Type: "any"}
	case reflect.PointerTo(t).Implements(typeProto):
		return w.proto(reflect.PointerTo(t), lvl)
	case t.Implements(typeJSONMarshaler) || reflect.PointerTo(t).Implements(typeJSONMarshaler):
		return &registry.Shape{Type: "any", Ref: ref(t.String())}
	case t.Implements(typeTextMarshaler) || reflect.PointerTo(t).Implements(typeTextMarshaler):
		return &registry.Shape{Type: "string", Ref: ref(t.String())}
	}
	switch t.Kind() {
	case reflect.Bool:
		return &registry.Shape{Type: "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return &registry.Shape{Type: "integer"}
	case reflect.Float32, reflect.Float64:
		return &registry.Shape{Type: "number"}
	case reflect.String:
		return &registry.Shape{Type: "string"}
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 &&
			!reflect.PointerTo(t.Elem()).Implements(typeJSONMarshaler) && !reflect.PointerTo(t.Elem()).Implements(typeTextMarshaler) {
			return &registry.Shape{Type: "string", Format: "base64"}
		}
		return w.container("array", t.Elem(), lvl)
	case reflect.Map:
		return w.container("map", t.Elem(), lvl)
	case reflect.Struct:
		return w.object(t, lvl)
	}
	return &registry.Shape{Type: "any"} // interfaces; channels, funcs and complex numbers do not encode
}

// container describes an array or map; at the depth limit only one of
// scalars is still described (its element costs a few bytes).
func (w *walker) container(kind string, elem reflect.Type, lvl int) *registry.Shape {
	if lvl >= w.depth {
		if e := w.typ(elem, lvl+1); isScalar(e) {
			return &registry.Shape{Type: kind, Elem: e}
		}
		return &registry.Shape{Type: kind, Truncated: true}
	}
	return &registry.Shape{Type: kind, Elem: w.typ(elem, lvl+1)}
}

// isScalar reports whether s is a leaf: no fields, no element.
func isScalar(s *registry.Shape) bool {
	return s.Type != "object" && s.Type != "array" && s.Type != "map"
}

// enter reports whether an object named name may be described at lvl (not
// too deep, not recursive) and returns a truncated marker otherwise.
func (w *walker) enter(name string, lvl int) (*registry.Shape, bool) {
	s := &registry.Shape{Type: "object", Ref: ref(name)}
	if lvl >= w.depth || w.over || (name != "" && w.isActive(name)) {
		s.Truncated = true
		return s, false
	}
	w.active = append(w.active, name)
	return s, true
}

func (w *walker) leave() { w.active = w.active[:len(w.active)-1] }

func (w *walker) isActive(name string) bool {
	for _, a := range w.active {
		if a == name {
			return true
		}
	}
	return false
}

// add appends a field unless the object is full (then marks it truncated).
func (w *walker) add(s *registry.Shape, name string, f *registry.Shape) {
	if len(s.Fields) >= w.fields || w.over {
		s.Truncated = true
		return
	}
	if w.nodes++; w.nodes >= maxNodes {
		w.over = true
	}
	s.Fields = append(s.Fields, &registry.Field{Name: name, Shape: *f})
}

// object describes a struct the way encoding/json encodes it.
func (w *walker) object(t reflect.Type, lvl int) *registry.Shape {
	name := ""
	if t.Name() != "" {
		name = t.String()
	}
	s, ok := w.enter(name, lvl)
	if !ok {
		return s
	}
	defer w.leave()
	w.fieldsOf(s, t, lvl, 0)
	return s
}

// fieldsOf adds the JSON fields of struct t to s, flattening untagged
// embedded structs (up to MaxDepth of them).
func (w *walker) fieldsOf(s *registry.Shape, t reflect.Type, lvl, embedded int) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			et := ft
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct && embedded < MaxDepth {
				w.fieldsOf(s, et, lvl, embedded+1)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fs := w.typ(ft, lvl+1)
		if hasOpt(opts, "string") && (fs.Type == "integer" || fs.Type == "number" || fs.Type == "boolean") {
			fs = &registry.Shape{Type: "string", Format: fs.Type}
		}
		w.add(s, name, fs)
	}
}

func hasOpt(opts, opt string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == opt {
			return true
		}
	}
	return false
}

// ref bounds a type name.
func ref(name string) string {
	if len(name) <= maxRef {
		return name
	}
	cut := maxRef - 3
	for cut > 0 && !isRuneStart(name[cut]) {
		cut--
	}
	return name[:cut] + "..."
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
