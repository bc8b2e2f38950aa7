package arch

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// docPath is the design document whose Architectures section shows Arch.
const docPath = "../../docs/architecture.md"

// TestArchitectureDocMatchesCode keeps the document's Arch snippet equal to
// the code: the struct's fields (names, types, order), and each function,
// method and constant it shows with the code's signature or value.
func TestArchitectureDocMatchesCode(t *testing.T) {
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	snippet := goBlock(string(b), "type Arch struct")
	if snippet == "" {
		t.Fatalf("%s has no Go block with type Arch struct", docPath)
	}
	fset := token.NewFileSet()
	doc, err := parser.ParseFile(fset, docPath, "package arch\n"+snippet, 0)
	if err != nil {
		t.Fatalf("the snippet does not parse: %v", err)
	}
	code := packageDecls(t, fset)
	if got, want := fields(doc.Decls, "Arch"), fields(code, "Arch"); !slices.Equal(got, want) {
		t.Errorf("the document's Arch fields\n\t%s\nare not the code's\n\t%s", strings.Join(got, "; "), strings.Join(want, "; "))
	}
	for key, got := range signatures(doc.Decls) {
		if want, ok := signatures(code)[key]; !ok || got != want {
			t.Errorf("the document shows %s as %q; the code has %q", key, got, want)
		}
	}
}

// goBlock returns the body of the first ```go block of markdown holding
// marker.
func goBlock(markdown, marker string) string {
	for _, part := range strings.Split(markdown, "```go\n")[1:] {
		body, _, _ := strings.Cut(part, "```")
		if strings.Contains(body, marker) {
			return body
		}
	}
	return ""
}

// packageDecls parses the package's own (non-test) files.
func packageDecls(t *testing.T, fset *token.FileSet) []ast.Decl {
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var decls []ast.Decl
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		decls = append(decls, f.Decls...)
	}
	return decls
}

// fields lists the fields of struct type name as "Name Type", in order.
func fields(decls []ast.Decl, name string) []string {
	var out []string
	for _, d := range decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, s := range gd.Specs {
			ts, ok := s.(*ast.TypeSpec)
			if !ok || ts.Name.Name != name {
				continue
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, f := range st.Fields.List {
				for _, n := range f.Names {
					out = append(out, n.Name+" "+types.ExprString(f.Type))
				}
			}
		}
	}
	return out
}

// signatures maps each function ("Lookup"), method ("(*Arch).IPs") and
// constant of decls to its parameter and result types, or its value.
func signatures(decls []ast.Decl) map[string]string {
	out := map[string]string{}
	for _, d := range decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			key := d.Name.Name
			if d.Recv != nil {
				key = "(" + types.ExprString(d.Recv.List[0].Type) + ")." + key
			}
			out[key] = "(" + typeList(d.Type.Params) + ") (" + typeList(d.Type.Results) + ")"
		case *ast.GenDecl:
			for _, s := range d.Specs {
				if vs, ok := s.(*ast.ValueSpec); ok && d.Tok == token.CONST && len(vs.Values) == len(vs.Names) {
					for i, n := range vs.Names {
						out[n.Name] = types.ExprString(vs.Values[i])
					}
				}
			}
		}
	}
	return out
}

// typeList is a field list's types, one per name: what a signature is
// without its parameter names.
func typeList(fl *ast.FieldList) string {
	if fl == nil {
		return ""
	}
	var ts []string
	for _, f := range fl.List {
		for range max(len(f.Names), 1) {
			ts = append(ts, types.ExprString(f.Type))
		}
	}
	return strings.Join(ts, ", ")
}
