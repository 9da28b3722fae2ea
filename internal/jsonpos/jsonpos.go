// Package jsonpos checks that bytes are one JSON value and, when they are
// not, says where the problem is in terms a person can find: the line, the
// column and the text around it.
package jsonpos

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrInvalid is wrapped by every error Check returns.
var ErrInvalid = errors.New("invalid JSON")

// Error is a JSON syntax error with its position (1-based line and column,
// 0-based byte offset).
type Error struct {
	Line, Column int
	Offset       int64
	Msg          string
	Near         string
}

func (e *Error) Error() string {
	if e.Near == "" {
		return fmt.Sprintf("invalid JSON at line %d, column %d: %s", e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("invalid JSON at line %d, column %d: %s (near %q)", e.Line, e.Column, e.Msg, e.Near)
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *Error) Unwrap() error { return ErrInvalid }

// Check returns nil when b is exactly one JSON value (surrounded by
// whitespace at most) and an *Error saying where it is not otherwise.
func Check(b []byte) error {
	if json.Valid(b) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var v json.RawMessage
	err := dec.Decode(&v)
	var at int64 // the offending byte; len(b) when the input ended too soon
	msg := ""
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		at, msg = se.Offset-1, se.Error()
	case errors.Is(err, io.EOF) && len(bytes.TrimSpace(b)) == 0:
		at, msg = int64(len(b)), "empty input, expected a JSON value"
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		at, msg = int64(len(b)), "unexpected end of input"
	case err != nil:
		at, msg = dec.InputOffset(), err.Error()
	default:
		at, msg = dec.InputOffset(), "more than one JSON value"
		for at < int64(len(b)) && isSpace(b[at]) {
			at++
		}
	}
	return position(b, at, msg)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// position builds the Error for the offending byte at (len(b) when the
// input ended too soon).
func position(b []byte, at int64, msg string) *Error {
	at = min(max(at, 0), int64(len(b)))
	line, col := 1, 1
	for _, c := range b[:at] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	lo, hi := max(at-10, 0), min(at+10, int64(len(b)))
	return &Error{Line: line, Column: col, Offset: at, Msg: msg, Near: string(bytes.ToValidUTF8(b[lo:hi], nil))}
}
