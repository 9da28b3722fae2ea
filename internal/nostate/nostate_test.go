package nostate

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// root is the module's root, two levels up.
const root = "../.."

// skipped are directories that are not the module's code: other modules
// (bench/peers, tools) and test data.
func skipped(path string, d fs.DirEntry) bool {
	name := d.Name()
	rel, _ := filepath.Rel(root, path)
	return name == "testdata" || name == "bin" || strings.HasPrefix(name, ".") && name != "." && name != ".." ||
		rel == filepath.Join("bench", "peers") || rel == "tools"
}

// pkgFiles is one package directory's files, tests included.
type pkgFiles struct {
	dir   string
	files map[string]*ast.File // by path
}

func parseModule(t *testing.T) ([]pkgFiles, *token.FileSet) {
	t.Helper()
	var out []pkgFiles
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path != root && skipped(path, d) {
			return filepath.SkipDir
		}
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		pf := pkgFiles{dir: path, files: map[string]*ast.File{}}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
				continue
			}
			p := filepath.Join(path, e.Name())
			f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution|parser.ParseComments)
			if err != nil {
				return err
			}
			pf.files[p] = f
		}
		if len(pf.files) > 0 {
			out = append(out, pf)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, fset
}

// written returns the names of package-level variables that some file of
// the package (tests included) assigns, increments, writes an element
// of, or takes the address of.
func written(files map[string]*ast.File) map[string]bool {
	out := map[string]bool{}
	target := func(e ast.Expr) {
		for {
			switch x := e.(type) {
			case *ast.IndexExpr:
				e = x.X
				continue
			case *ast.SelectorExpr:
				e = x.X
				continue
			case *ast.ParenExpr:
				e = x.X
				continue
			case *ast.StarExpr:
				e = x.X
				continue
			case *ast.Ident:
				out[x.Name] = true
			}
			return
		}
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.AssignStmt:
				if x.Tok != token.DEFINE {
					for _, l := range x.Lhs {
						target(l)
					}
				}
			case *ast.IncDecStmt:
				target(x.X)
			case *ast.UnaryExpr:
				if x.Op == token.AND {
					target(x.X)
				}
			}
			return true
		})
	}
	return out
}

// isCall reports whether e calls one of the functions (as "pkg.Func").
func isCall(e ast.Expr, funcs ...string) bool {
	c, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	fun := c.Fun
	if ix, ok := fun.(*ast.IndexExpr); ok { // a generic function, instantiated
		fun = ix.X
	}
	sel, ok := fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && slices.Contains(funcs, pkg.Name+"."+sel.Sel.Name)
}

// isLookupTable reports whether e is a composite literal of plain values
// (not of a sync or atomic type, which is state by nature).
func isLookupTable(e ast.Expr) bool {
	cl, ok := e.(*ast.CompositeLit)
	if !ok {
		return false
	}
	if sel, ok := cl.Type.(*ast.SelectorExpr); ok {
		if pkg, ok := sel.X.(*ast.Ident); ok && (pkg.Name == "sync" || pkg.Name == "atomic") {
			return false
		}
	}
	return true
}

func TestNoPackageLevelState(t *testing.T) {
	var problems []string
	pkgs, positions := parseModule(t)
	for _, pkg := range pkgs {
		w := written(pkg.files)
		for path, f := range pkg.files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.VAR {
					continue
				}
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					if embedded(gd.Doc) || embedded(vs.Doc) {
						continue // a file's contents, set by the compiler
					}
					for i, name := range vs.Names {
						var value ast.Expr
						if i < len(vs.Values) {
							value = vs.Values[i]
						}
						if why := verdict(name.Name, value, w[name.Name]); why != "" {
							problems = append(problems, positions.Position(name.Pos()).String()+": "+name.Name+": "+why)
						}
					}
				}
			}
		}
	}
	slices.Sort(problems)
	for _, p := range problems {
		t.Error(p)
	}
	if len(problems) > 0 {
		t.Logf("%d package-level variables hold state; pass it in (a field, an option) or make it a constant", len(problems))
	}
}

// embedded reports whether a doc comment holds a //go:embed directive.
func embedded(doc *ast.CommentGroup) bool {
	if doc == nil {
		return false
	}
	for _, c := range doc.List {
		if strings.HasPrefix(c.Text, "//go:embed ") {
			return true
		}
	}
	return false
}

// verdict is why a package-level variable is state ("" when it is not).
func verdict(name string, value ast.Expr, written bool) string {
	switch {
	case name == "_":
		return ""
	case written:
		return "assigned or modified after its declaration (tests included)"
	case (strings.HasPrefix(name, "Err") || strings.HasPrefix(name, "err")) && value != nil:
		return "" // an error sentinel
	case isCall(value, "regexp.MustCompile", "template.Must", "reflect.TypeFor", "reflect.TypeOf"):
		return "" // compiled once, immutable
	case ast.IsExported(name):
		return "an exported variable can be reassigned by any importer; make it a constant, a function or a type"
	case value != nil && isLookupTable(value):
		return ""
	case value == nil:
		return "declared without a value: it is meant to be set"
	}
	return "a variable that could be a constant, or state: make it a constant or pass it in"
}
