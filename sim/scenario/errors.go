package scenario

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Pos is a position in a scenario file: 1-based line and column. The zero
// Pos means "no position" (a scenario built in Go, or an error about the
// file as a whole).
type Pos struct {
	Line int
	Col  int
}

// IsValid reports whether p names a place in a file.
func (p Pos) IsValid() bool { return p.Line > 0 }

// Error is one problem found in a scenario: where it is and what is wrong.
type Error struct {
	// File is the scenario's file name ("" for a scenario built in Go).
	File string
	// Pos is the position of the offending value (zero when unknown).
	Pos Pos
	// Path is the field path, for example "topology.services[0].instances"
	// ("" for an error about the document as a whole).
	Path string
	// Msg says what is wrong.
	Msg string
}

// Error formats e as "file:line:col: path: message", leaving out the parts
// that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Pos.IsValid() {
			fmt.Fprintf(&b, ":%d:%d", e.Pos.Line, e.Pos.Col)
		}
		b.WriteString(": ")
	} else if e.Pos.IsValid() {
		fmt.Fprintf(&b, "%d:%d: ", e.Pos.Line, e.Pos.Col)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in one or more scenarios, sorted by
// file and position. Load, Parse and Validate return one (as an error)
// when anything is wrong; errors.As gets it back.
type ErrorList []*Error

// Error joins the errors, one per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns l as an error, or nil when l is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// sort orders l by file, line, column, then message, and drops exact
// duplicates.
func (l ErrorList) sort() ErrorList {
	slices.SortStableFunc(l, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col),
		)
	})
	return slices.CompactFunc(l, func(a, b *Error) bool { return *a == *b })
}

// problems collects errors for one scenario, placing each at the position
// recorded for its path (or the nearest enclosing path that has one).
type problems struct {
	file string
	pos  map[string]Pos // field path -> position of its value
	list ErrorList
	// bad holds the paths whose value could not be decoded: semantic
	// checks say nothing more about them or what they hold.
	bad map[string]bool
}

func newProblems(file string, pos map[string]Pos) *problems {
	if pos == nil {
		pos = map[string]Pos{}
	}
	return &problems{file: file, pos: pos, bad: map[string]bool{}}
}

// decodeError records a decoding problem at path and marks the path bad.
func (p *problems) decodeError(pos Pos, path, format string, args ...any) {
	p.bad[path] = true
	p.at(pos, path, format, args...)
}

// isBad reports whether path or an enclosing path failed to decode.
func (p *problems) isBad(path string) bool {
	for q := path; ; {
		if p.bad[q] {
			return true
		}
		i := strings.LastIndexAny(q, ".[")
		if i < 0 {
			return p.bad[""]
		}
		q = q[:i]
	}
}

// at records an error at an explicit position.
func (p *problems) at(pos Pos, path, format string, args ...any) {
	p.list = append(p.list, &Error{File: p.file, Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// add records a semantic error about the value at path, unless the value
// could not be decoded (that error says enough).
func (p *problems) add(path, format string, args ...any) {
	if p.isBad(path) {
		return
	}
	p.at(p.lookup(path), path, format, args...)
}

// lookup finds the position of path or of its nearest ancestor.
func (p *problems) lookup(path string) Pos {
	for q := path; ; {
		if pos, ok := p.pos[q]; ok {
			return pos
		}
		i := strings.LastIndexAny(q, ".[")
		if i < 0 {
			return p.pos[""]
		}
		q = q[:i]
	}
}

// join builds a child path.
func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// index builds an element path.
func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
