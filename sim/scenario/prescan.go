package scenario

import (
	"bytes"
	"fmt"
)

// The YAML parser's time and memory grow much faster than the text with
// shapes a scenario never has: deep nesting (a 200 KB file of nested flow
// lists took more than 20 s and 7 GB), a block mapping with very many keys
// (60,000 keys: 10 s), very many documents (100,000: more than 20 s),
// empty flow entries (256,000 commas in a list: 12 s) and explicit keys
// ("? a," 64,000 times in a list: 9 s). prescan finds them in one pass
// over the text, before the parser runs. It follows YAML's structure only
// as far as it needs: indentation, "- " entries, "key:" lines, flow
// brackets, quotes, comments and block scalars.

// maxMappingKeys is the most keys one block mapping may hold; a scenario's
// largest mapping (a labels map) holds a few.
const maxMappingKeys = 1000

// maxDocuments is the most document markers (--- or ...) prescan lets
// through; the decoder says that a file holds more than one document.
const maxDocuments = 16

type scanLevel struct {
	col  int
	seq  bool
	keys int
}

type prescanner struct {
	stack []scanLevel
	flow  int  // depth of open flow brackets
	peak  int  // deepest nesting seen on the current line
	quote byte // open quote ('"' or '\'') or 0
	// blockCol is the column of the key whose block scalar (| or >) the
	// following more-indented lines belong to; -1 when none.
	blockCol int
	docs     int    // document markers seen
	prev     byte   // the last character scanned outside quotes, blanks and comments (0: none)
	bad      string // a shape prescan refuses, found by scan
	badCol   int
}

// prescan returns the position and text of the first nesting or mapping
// too large for the parser, or ok.
func prescan(data []byte) (Pos, string, bool) {
	s := &prescanner{blockCol: -1}
	line := 0
	for len(data) > 0 {
		line++
		end := 0
		for end < len(data) && data[end] != '\n' {
			end++
		}
		text := data[:end]
		data = data[min(end+1, len(data)):]
		if col, msg := s.line(text); msg != "" {
			return Pos{Line: line, Col: col + 1}, msg, false
		}
	}
	return Pos{}, "", true
}

// line scans one line; it returns a problem's byte column and text.
func (s *prescanner) line(text []byte) (int, string) {
	indent := 0
	for indent < len(text) && text[indent] == ' ' {
		indent++
	}
	if indent == len(text) || text[indent] == '#' && s.quote == 0 {
		return 0, "" // blank or comment
	}
	if indent == 0 && s.quote == 0 && (bytes.HasPrefix(text, []byte("---")) || bytes.HasPrefix(text, []byte("..."))) {
		s.stack, s.flow, s.blockCol = s.stack[:0], 0, -1 // a new document
		if s.docs++; s.docs > maxDocuments {
			return 0, fmt.Sprintf("the file holds more than %d YAML documents; a scenario file holds exactly one", maxDocuments)
		}
		return 0, ""
	}
	if s.blockCol >= 0 {
		if indent > s.blockCol {
			return 0, "" // inside a block scalar
		}
		s.blockCol = -1
	}
	col := indent
	if s.flow == 0 && s.quote == 0 {
		s.pop(col)
		for col < len(text) && text[col] == '-' && (col+1 == len(text) || text[col+1] == ' ') {
			s.pop(col)
			if n := len(s.stack); n == 0 || s.stack[n-1].col != col || !s.stack[n-1].seq {
				s.stack = append(s.stack, scanLevel{col: col, seq: true})
			}
			col++
			for col < len(text) && text[col] == ' ' {
				col++
			}
		}
	}
	keyLine := s.flow == 0 && s.quote == 0
	s.peak = 0
	key, blockScalar := s.scan(text, col)
	if s.bad != "" {
		return s.badCol, s.bad
	}
	if keyLine && key {
		s.pop(col)
		if n := len(s.stack); n > 0 && s.stack[n-1].col == col && !s.stack[n-1].seq {
			s.stack[n-1].keys++
			if s.stack[n-1].keys > maxMappingKeys {
				return col, fmt.Sprintf("a mapping holds more than %d keys; a scenario needs far fewer", maxMappingKeys)
			}
		} else {
			s.stack = append(s.stack, scanLevel{col: col, keys: 1})
		}
		if blockScalar {
			s.blockCol = col
		}
	}
	if max(len(s.stack)+s.flow, s.peak) > maxDepth {
		return col, fmt.Sprintf("the document is nested more than %d levels deep", maxDepth)
	}
	return 0, ""
}

// pop closes the block levels deeper than col.
func (s *prescanner) pop(col int) {
	for n := len(s.stack); n > 0 && s.stack[n-1].col > col; n-- {
		s.stack = s.stack[:n-1]
	}
}

// scan follows quotes, comments and flow brackets from col to the end of
// the line. key reports a "key:" at flow depth 0 and blockScalar a value
// that starts a block scalar (| or >). It records in s.bad (at s.badCol)
// the two shapes the parser takes quadratic time on and a scenario never
// has: an explicit key ("? ") and an empty entry of a flow collection
// (",," or "[,").
func (s *prescanner) scan(text []byte, col int) (key, blockScalar bool) {
	afterColon := -1
	if s.flow == 0 && s.quote == 0 {
		s.prev = 0 // a block line starts a node
	}
	for i := col; i < len(text); i++ {
		c := text[i]
		if s.quote != 0 {
			switch {
			case s.quote == '"' && c == '\\':
				i++
			case c == s.quote && s.quote == '\'' && i+1 < len(text) && text[i+1] == '\'':
				i++
			case c == s.quote:
				s.quote = 0
				s.prev = c
			}
			continue
		}
		if c == ' ' {
			continue
		}
		nodeStart := s.prev == 0 || s.prev == '[' || s.prev == '{' || s.prev == ',' || s.prev == ':' || s.prev == '-'
		switch c {
		case '"', '\'':
			if i == col || text[i-1] == ' ' || text[i-1] == '[' || text[i-1] == '{' || text[i-1] == ',' || text[i-1] == ':' {
				s.quote = c
			}
		case '#':
			if i == 0 || text[i-1] == ' ' {
				return key, blockScalar
			}
		case '?':
			if nodeStart && (i+1 == len(text) || text[i+1] == ' ') && s.bad == "" {
				s.bad, s.badCol = "explicit keys (\"? \") are not supported; write \"key: value\"", i
			}
		case ',':
			if s.flow > 0 && (s.prev == ',' || s.prev == '[' || s.prev == '{') && s.bad == "" {
				s.bad, s.badCol = "an empty entry in a flow list or mapping (a comma with nothing before it)", i
			}
		case '[', '{':
			s.flow++
			s.peak = max(s.peak, len(s.stack)+s.flow)
		case ']', '}':
			s.flow = max(s.flow-1, 0)
		case ':':
			if s.flow == 0 && !key && (i+1 == len(text) || text[i+1] == ' ') {
				key = true
				afterColon = i + 1
			}
		case '|', '>':
			if key && s.flow == 0 && onlySpaces(text[afterColon:i]) {
				blockScalar = true
			}
		}
		if c == '-' && !(i+1 == len(text) || text[i+1] == ' ') {
			s.prev = 'a' // a plain scalar such as -1, not a list entry
		} else {
			s.prev = c
		}
	}
	return key, blockScalar
}

func onlySpaces(b []byte) bool {
	for _, c := range b {
		if c != ' ' {
			return false
		}
	}
	return true
}
