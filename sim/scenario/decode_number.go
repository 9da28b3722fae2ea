package scenario

import (
	"math"
	"regexp"
	"strconv"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// Numbers that goccy/go-yaml reads otherwise than YAML 1.2 does.

// yamlFloat is a YAML 1.2 core-schema float without a dot that goccy
// reads as a string: 1e12, -2e-3, +1E+6.
var yamlFloat = regexp.MustCompile(`^[-+]?[0-9]+[eE][-+]?[0-9]+$`)

// exponentNumber returns a plain (unquoted) scalar such as 1e12 as the
// number it is in YAML 1.2, and any other node unchanged.
func exponentNumber(n ast.Node) ast.Node {
	s, ok := n.(*ast.StringNode)
	if !ok || s.Token == nil || s.Token.Type == token.SingleQuoteType || s.Token.Type == token.DoubleQuoteType || !yamlFloat.MatchString(s.Value) {
		return n
	}
	f, err := strconv.ParseFloat(s.Value, 64)
	if err != nil || math.IsInf(f, 0) {
		return n
	}
	return &ast.FloatNode{BaseNode: &ast.BaseNode{}, Token: s.Token, Value: f}
}

// integralFloat returns a float written for an integer field (1e3,
// 1.5e3) as an integer; big reports one too large for an int64.
func integralFloat(n ast.Node) (x int64, ok, big bool) {
	f, isFloat := n.(*ast.FloatNode)
	if !isFloat || f.Value != math.Trunc(f.Value) {
		return 0, false, false
	}
	if math.Abs(f.Value) > 1<<62 {
		return 0, true, true
	}
	return int64(f.Value), true, false
}
