package registry

// Shape describes the JSON form of a message, or of one part of it, so that
// a tool can show and build a request without the Go type. Shapes are built
// by package framework/describe, which bounds their size (see there).
type Shape struct {
	// Type is the JSON type: "object", "array", "map" (an object with
	// arbitrary keys), "string", "integer", "number", "boolean" or "any".
	Type string `json:"type"`
	// Format refines Type: "base64" (bytes), "date-time", "duration",
	// "enum" or "oneof"; empty when Type says it all.
	Format string `json:"format,omitempty"`
	// Ref names the Go or protobuf type of an object ("pkg.Type").
	Ref string `json:"ref,omitempty"`
	// Fields are the members of an object, in declaration order.
	Fields []*Field `json:"fields,omitempty"`
	// Elem is the element of an array or the value of a map.
	Elem *Shape `json:"elem,omitempty"`
	// Truncated marks a part left out to keep the description bounded: a
	// recursive type, a level too deep, or a description too large.
	Truncated bool `json:"truncated,omitempty"`
}

// Field is one member of an object.
type Field struct {
	// Name is the JSON name of the field.
	Name string `json:"name"`
	Shape
}

// Copy returns a deep copy of s.
func (s *Shape) Copy() *Shape {
	if s == nil {
		return nil
	}
	c := *s
	c.Elem = s.Elem.Copy()
	if s.Fields != nil {
		c.Fields = make([]*Field, len(s.Fields))
		for i, f := range s.Fields {
			if f != nil {
				c.Fields[i] = &Field{Name: f.Name, Shape: *f.Shape.Copy()}
			}
		}
	}
	return &c
}

// Equal reports whether s and o describe the same shape.
func (s *Shape) Equal(o *Shape) bool {
	if s == o {
		return true
	}
	if s == nil || o == nil || s.Type != o.Type || s.Format != o.Format || s.Ref != o.Ref ||
		s.Truncated != o.Truncated || len(s.Fields) != len(o.Fields) || !s.Elem.Equal(o.Elem) {
		return false
	}
	for i, f := range s.Fields {
		g := o.Fields[i]
		if (f == nil) != (g == nil) || f != nil && (f.Name != g.Name || !f.Shape.Equal(&g.Shape)) {
			return false
		}
	}
	return true
}
