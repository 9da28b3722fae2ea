package errors

import "strings"

// The headers that carry an *Error across the wire.
const (
	HeaderID     = "Micro-Error-Id"
	HeaderCode   = "Micro-Error-Code"
	HeaderDetail = "Micro-Error-Detail"
)

// ToHeader writes e into h (which must not be nil).
func ToHeader(e *Error, h map[string]string) {
	h[HeaderID] = e.ID
	h[HeaderCode] = e.Code.String()
	h[HeaderDetail] = e.Detail
}

// FromHeader reads an *Error from h. It returns nil when h carries no error.
// A code this version does not know is kept as its number.
func FromHeader(h map[string]string) *Error {
	code, ok := h[HeaderCode]
	if !ok {
		return nil
	}
	c, err := ParseCode(strings.TrimSpace(code))
	if err != nil {
		c = Unknown
	}
	return &Error{ID: h[HeaderID], Code: c, Detail: h[HeaderDetail]}
}
