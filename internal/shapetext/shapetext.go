// Package shapetext renders a registry.Shape for people: a one-line
// signature ({"name": string, "items": [{"sku": string}]}) and a JSON
// template with a zero value in every field, ready to be edited into a
// request.
package shapetext

import (
	"strconv"
	"strings"

	"github.com/microsim/microsim/framework/registry"
)

// Signature renders s as a type signature; "?" when s is nil (unknown), "…"
// where the description was truncated.
func Signature(s *registry.Shape) string {
	if s == nil {
		return "?"
	}
	var b strings.Builder
	signature(&b, s)
	return b.String()
}

func signature(b *strings.Builder, s *registry.Shape) {
	switch s.Type {
	case "object":
		object(b, s, signature, s.Truncated)
	case "array":
		b.WriteByte('[')
		elem(b, s)
		b.WriteByte(']')
	case "map":
		b.WriteString("{string: ")
		elem(b, s)
		b.WriteByte('}')
	default:
		b.WriteString(s.Type)
		if s.Format != "" {
			b.WriteString("(" + s.Format + ")")
		}
	}
}

// object writes s's fields as {"name": value, ...}, each value by value,
// and "…" last when more says so.
func object(b *strings.Builder, s *registry.Shape, value func(*strings.Builder, *registry.Shape), more bool) {
	b.WriteByte('{')
	for i, f := range s.Fields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(f.Name))
		b.WriteString(": ")
		value(b, &f.Shape)
	}
	if more {
		if len(s.Fields) > 0 {
			b.WriteString(", ")
		}
		b.WriteString("…")
	}
	b.WriteByte('}')
}

func elem(b *strings.Builder, s *registry.Shape) {
	if s.Elem == nil {
		b.WriteString("…")
		return
	}
	signature(b, s.Elem)
}

// Template renders s as JSON with a zero value for every field (an empty
// array or object where the description was truncated); "{}" when s is nil.
func Template(s *registry.Shape) string {
	if s == nil {
		return "{}"
	}
	var b strings.Builder
	template(&b, s)
	return b.String()
}

func template(b *strings.Builder, s *registry.Shape) {
	switch s.Type {
	case "object":
		object(b, s, template, false)
	case "array":
		b.WriteString("[]")
	case "map":
		b.WriteString("{}")
	case "string":
		if s.Format == "integer" || s.Format == "number" {
			b.WriteString(`"0"`)
		} else if s.Format == "boolean" {
			b.WriteString(`"false"`)
		} else if s.Format == "date-time" {
			b.WriteString(`"1970-01-01T00:00:00Z"`)
		} else {
			b.WriteString(`""`)
		}
	case "integer", "number":
		b.WriteString("0")
	case "boolean":
		b.WriteString("false")
	default:
		b.WriteString("null")
	}
}
