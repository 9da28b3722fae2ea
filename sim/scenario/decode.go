package scenario

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/microsim/microsim/internal/suggest"
)

// The decoder walks goccy/go-yaml's AST into the schema types by
// reflection. It does not stop at the first problem: every unknown field,
// wrong type and bad value is recorded with its position, and decoding
// goes on with the next field. It records the position of every value it
// visits by field path, so that the semantic checks can place their
// errors too.

// scalarSetter is implemented by schema types written as a scalar
// (Duration, and Latency's shorthand).
type scalarSetter interface {
	setScalar(text string, quoted bool) error
}

// unknownFielder lets a schema type word the error for an unknown key
// (Fault and Assertion say "unknown fault kind").
type unknownFielder interface {
	unknownFieldMessage(key string, known []string) string
}

// Limits that keep a hostile file (aliases of aliases) cheap.
const (
	maxNodes = 200_000
	maxDepth = 64
)

type decoder struct {
	p       *problems
	anchors map[string]ast.Node
	fields  map[reflect.Type]*structInfo
	nodes   int
	depth   int
	stopped bool
}

// decodeFile parses data and decodes it into a Scenario, collecting every
// problem. It never panics: a panic of the parser is turned into an error.
func decodeFile(file string, data []byte) (sc *Scenario, pos map[string]Pos, errs ErrorList) {
	p := newProblems(file, nil)
	sc = &Scenario{}
	defer func() {
		if r := recover(); r != nil {
			p.at(Pos{}, "", "cannot parse the file (YAML parser failure: %v)", r)
			sc, pos, errs = nil, p.pos, p.list.sort()
		}
	}()
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		p.at(syntaxPos(err), "", "%s", syntaxMessage(err))
		return nil, p.pos, p.list.sort()
	}
	var docs []ast.Node
	for _, doc := range f.Docs {
		if doc != nil && doc.Body != nil {
			docs = append(docs, doc.Body)
		}
	}
	switch {
	case len(docs) == 0:
		p.at(Pos{Line: 1, Col: 1}, "", "the file holds no scenario (it is empty)")
		return nil, p.pos, p.list.sort()
	case len(docs) > 1:
		p.at(nodePos(docs[1]), "", "the file holds %d YAML documents; a scenario file holds exactly one", len(docs))
	}
	d := &decoder{p: p, anchors: map[string]ast.Node{}, fields: map[reflect.Type]*structInfo{}}
	p.pos[""] = nodePos(docs[0])
	d.decode("", docs[0], reflect.ValueOf(sc).Elem())
	if d.stopped {
		// What was decoded is a part of the document: checking it would
		// only add noise to the one error that matters.
		return nil, p.pos, p.list.sort()
	}
	return sc, p.pos, p.list.sort()
}

func syntaxPos(err error) Pos {
	type tokener interface{ GetToken() *token.Token }
	if te, ok := err.(tokener); ok && te.GetToken() != nil && te.GetToken().Position != nil {
		return Pos{Line: te.GetToken().Position.Line, Col: te.GetToken().Position.Column}
	}
	return Pos{}
}

func syntaxMessage(err error) string {
	type messager interface{ GetMessage() string }
	msg := err.Error()
	if m, ok := err.(messager); ok {
		msg = m.GetMessage()
	}
	return "YAML syntax: " + strings.TrimSpace(msg)
}

func nodePos(n ast.Node) Pos {
	if n == nil {
		return Pos{}
	}
	if m, ok := n.(*ast.MappingNode); ok && len(m.Values) > 0 {
		return nodePos(m.Values[0].Key)
	}
	if mv, ok := n.(*ast.MappingValueNode); ok {
		return nodePos(mv.Key)
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return Pos{}
	}
	return Pos{Line: tk.Position.Line, Col: tk.Position.Column}
}

// resolve unwraps tags and anchors (remembering them) and follows aliases.
func (d *decoder) resolve(path string, n ast.Node) ast.Node {
	for i := 0; i < maxDepth && n != nil; i++ {
		switch t := n.(type) {
		case *ast.TagNode:
			n = t.Value
		case *ast.AnchorNode:
			if name, ok := t.Name.(*ast.StringNode); ok {
				d.anchors[name.Value] = t.Value
			}
			n = t.Value
		case *ast.AliasNode:
			name := ""
			if t.Value != nil {
				name = t.Value.GetToken().Value
			}
			target, ok := d.anchors[name]
			if !ok {
				d.p.decodeError(nodePos(t), path, "alias *%s refers to no anchor defined before it", name)
				return nil
			}
			n = target
		default:
			return n
		}
	}
	return n
}

// decode stores node n into v, recording problems under path.
func (d *decoder) decode(path string, n ast.Node, v reflect.Value) {
	if d.stopped {
		return
	}
	d.nodes++
	if d.nodes > maxNodes || d.depth > maxDepth {
		d.stopped = true
		d.p.decodeError(nodePos(n), path, "the document is too large or too deeply nested (aliases expanded)")
		return
	}
	d.depth++
	defer func() { d.depth-- }()

	n = d.resolve(path, n)
	if _, isNull := n.(*ast.NullNode); n == nil || isNull {
		if v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct && v.IsNil() {
			// "kind:" with no value still says which kind: an empty one.
			v.Set(reflect.New(v.Type().Elem()))
		}
		if n != nil {
			d.p.pos[path] = nodePos(n)
		}
		return
	}
	d.p.pos[path] = nodePos(n)

	if v.CanAddr() {
		if s, ok := v.Addr().Interface().(scalarSetter); ok && isScalar(n) {
			text, quoted := scalarText(n)
			if err := s.setScalar(text, quoted); err != nil {
				d.p.decodeError(d.p.lookup(path), path, "%v", err)
			}
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(path, n, v.Elem())
	case reflect.Struct:
		d.decodeStruct(path, n, v)
	case reflect.Slice:
		d.decodeSlice(path, n, v)
	case reflect.Map:
		d.decodeMap(path, n, v)
	default:
		d.decodeScalar(path, n, v)
	}
}

func (d *decoder) decodeSlice(path string, n ast.Node, v reflect.Value) {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		d.p.decodeError(d.p.lookup(path), path, "expected a list, got %s", describe(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
	for i, item := range seq.Values {
		d.decode(index(path, i), item, out.Index(i))
	}
	v.Set(out)
}

func (d *decoder) decodeMap(path string, n ast.Node, v reflect.Value) {
	m, ok := n.(*ast.MappingNode)
	if !ok {
		d.p.decodeError(d.p.lookup(path), path, "expected a mapping, got %s", describe(n))
		return
	}
	out := reflect.MakeMapWithSize(v.Type(), len(m.Values))
	for _, kv := range m.Values {
		key, ok := d.key(path, kv)
		if !ok {
			continue
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(join(path, key), kv.Value, elem)
		out.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), elem)
	}
	v.Set(out)
}

// key returns a mapping entry's key as text.
func (d *decoder) key(path string, kv *ast.MappingValueNode) (string, bool) {
	if kv.Key == nil {
		return "", false
	}
	if kv.Key.IsMergeKey() {
		d.p.decodeError(nodePos(kv.Key), path, "merge keys (<<) are not supported; write the fields out")
		return "", false
	}
	k := d.resolve(path, kv.Key)
	if !isScalar(k) {
		d.p.decodeError(nodePos(kv.Key), path, "a key must be a plain name, got %s", describe(k))
		return "", false
	}
	text, _ := scalarText(k)
	return text, true
}

func (d *decoder) decodeStruct(path string, n ast.Node, v reflect.Value) {
	m, ok := n.(*ast.MappingNode)
	if !ok {
		d.p.decodeError(d.p.lookup(path), path, "expected a mapping, got %s", describe(n))
		return
	}
	info := d.structInfo(v.Type())
	for _, kv := range m.Values {
		key, ok := d.key(path, kv)
		if !ok {
			continue
		}
		idx, found := info.byName[key]
		if !found {
			msg := fmt.Sprintf("unknown field %q; known fields: %s", key, strings.Join(info.names, ", "))
			if uf, ok := v.Addr().Interface().(unknownFielder); ok {
				msg = uf.unknownFieldMessage(key, info.names)
			} else if s := closestName(key, info.names); s != "" {
				msg = fmt.Sprintf("unknown field %q (did you mean %q?); known fields: %s", key, s, strings.Join(info.names, ", "))
			}
			d.p.decodeError(nodePos(kv.Key), join(path, key), "%s", msg)
			continue
		}
		d.decode(join(path, key), kv.Value, v.FieldByIndex(idx))
	}
}

// structInfo is the yaml field table of a struct type.
type structInfo struct {
	byName map[string][]int
	names  []string
}

func (d *decoder) structInfo(t reflect.Type) *structInfo {
	if info, ok := d.fields[t]; ok {
		return info
	}
	info := &structInfo{byName: map[string][]int{}}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("yaml")
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(slices.Clone(prefix), i)
			if opts == "inline" && f.Type.Kind() == reflect.Struct {
				walk(f.Type, idx)
				continue
			}
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			info.byName[name] = idx
			info.names = append(info.names, name)
		}
	}
	walk(t, nil)
	d.fields[t] = info
	return info
}

func (d *decoder) decodeScalar(path string, n ast.Node, v reflect.Value) {
	switch v.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint64, reflect.Uint, reflect.Uint32, reflect.Float64:
		n = exponentNumber(n)
	}
	switch v.Kind() {
	case reflect.String:
		s, ok := n.(*ast.StringNode)
		if lit, isLit := n.(*ast.LiteralNode); isLit && lit.Value != nil {
			v.SetString(lit.Value.Value)
			return
		}
		if !ok {
			text, _ := scalarText(n)
			if isScalar(n) {
				d.p.decodeError(d.p.lookup(path), path, "expected a string, got %s (quote it: %q)", describe(n), text)
			} else {
				d.p.decodeError(d.p.lookup(path), path, "expected a string, got %s", describe(n))
			}
			return
		}
		v.SetString(s.Value)
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.p.decodeError(d.p.lookup(path), path, "expected true or false, got %s", describe(n))
			return
		}
		v.SetBool(b.Value)
	case reflect.Int, reflect.Int64, reflect.Int32:
		if x, ok, big := integralFloat(n); ok {
			if big || v.OverflowInt(x) {
				d.p.decodeError(d.p.lookup(path), path, "integer %s is out of range", n.GetToken().Value)
				return
			}
			v.SetInt(x)
			return
		}
		i, ok := n.(*ast.IntegerNode)
		if !ok {
			d.p.decodeError(d.p.lookup(path), path, "expected an integer, got %s", describe(n))
			return
		}
		switch x := i.Value.(type) {
		case int64:
			if v.OverflowInt(x) {
				d.p.decodeError(d.p.lookup(path), path, "integer %d is out of range", x)
				return
			}
			v.SetInt(x)
		case uint64:
			if x > math.MaxInt64 || v.OverflowInt(int64(x)) {
				d.p.decodeError(d.p.lookup(path), path, "integer %d is out of range", x)
				return
			}
			v.SetInt(int64(x))
		}
	case reflect.Uint64, reflect.Uint, reflect.Uint32:
		if x, ok, big := integralFloat(n); ok {
			if big {
				d.p.decodeError(d.p.lookup(path), path, "integer %s is out of range", n.GetToken().Value)
				return
			}
			if x < 0 {
				d.p.decodeError(d.p.lookup(path), path, "must not be negative, got %s", n.GetToken().Value)
				return
			}
			v.SetUint(uint64(x))
			return
		}
		i, ok := n.(*ast.IntegerNode)
		if !ok {
			d.p.decodeError(d.p.lookup(path), path, "expected a non-negative integer, got %s", describe(n))
			return
		}
		switch x := i.Value.(type) {
		case int64:
			if x < 0 {
				d.p.decodeError(d.p.lookup(path), path, "must not be negative, got %d", x)
				return
			}
			v.SetUint(uint64(x))
		case uint64:
			v.SetUint(x)
		}
	case reflect.Float64:
		switch x := n.(type) {
		case *ast.IntegerNode:
			switch y := x.Value.(type) {
			case int64:
				v.SetFloat(float64(y))
			case uint64:
				v.SetFloat(float64(y))
			}
		case *ast.FloatNode:
			v.SetFloat(x.Value)
		case *ast.InfinityNode, *ast.NanNode:
			d.p.decodeError(d.p.lookup(path), path, "expected a finite number, got %s", x.GetToken().Value)
		default:
			d.p.decodeError(d.p.lookup(path), path, "expected a number, got %s", describe(n))
		}
	default:
		d.p.decodeError(d.p.lookup(path), path, "cannot decode into %s", v.Type())
	}
}

func isScalar(n ast.Node) bool {
	switch n.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.LiteralNode, *ast.InfinityNode, *ast.NanNode:
		return true
	}
	return false
}

// scalarText is a scalar's text and whether it was quoted.
func scalarText(n ast.Node) (string, bool) {
	switch s := n.(type) {
	case *ast.StringNode:
		quoted := s.Token != nil && (s.Token.Type == token.SingleQuoteType || s.Token.Type == token.DoubleQuoteType)
		return s.Value, quoted
	case *ast.LiteralNode:
		if s.Value != nil {
			return s.Value.Value, true
		}
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value, false
	}
	return "", false
}

// describe names what a node is, for messages.
func describe(n ast.Node) string {
	switch t := n.(type) {
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode, *ast.LiteralNode:
		text, _ := scalarText(t)
		return fmt.Sprintf("the string %q", text)
	case *ast.IntegerNode:
		return "the integer " + t.GetToken().Value
	case *ast.FloatNode:
		return "the number " + t.GetToken().Value
	case *ast.BoolNode:
		return "the boolean " + strconv.FormatBool(t.Value)
	case *ast.NullNode:
		return "null"
	}
	return "a " + strings.ToLower(n.Type().String())
}

// closestName returns the known name closest to key, if it is close.
func closestName(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if dist := suggest.Distance(key, k); dist < bestD {
			best, bestD = k, dist
		}
	}
	return best
}

// unknownKindMessage words the error for an unknown key of a struct that
// holds one of several kinds.
func unknownKindMessage(what, key string, known []string) string {
	msg := fmt.Sprintf("unknown %s %q", what, key)
	if s := closestName(key, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg + "; known: " + strings.Join(known, ", ")
}
