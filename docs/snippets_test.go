package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"maps"
	"slices"
	"strings"
	"testing"
)

// TestSnippetsMatchCode checks every ```go block of the document against
// the package its first line names ("// vmtest/qemu"). A snippet may
// group and abbreviate as Go allows ("Kernel, Initrd string" or one field
// a line), and leaves out comments and unexported names; what it declares
// must be the code's:
//   - a struct type has the code's exported fields, in the code's order,
//     with the code's types;
//   - an interface type has the code's methods, in the code's order, with
//     the code's signatures;
//   - any other type has the code's definition;
//   - a function or method has the code's signature (parameter names
//     aside), and a type whose methods it shows has all its exported
//     methods shown, in any order, since they live in several files;
//   - a constant or variable has the code's value, or type, where it
//     gives one.
func TestSnippetsMatchCode(t *testing.T) {
	blocks := blocksOf(readDoc(t), "go")
	if len(blocks) == 0 {
		t.Fatalf("%s has no Go snippets", docFile)
	}
	pkgs := packages(t)
	for _, b := range blocks {
		first, _, _ := strings.Cut(b.Body, "\n")
		fields := strings.Fields(strings.TrimPrefix(first, "//"))
		if !strings.HasPrefix(first, "//") || len(fields) == 0 {
			t.Errorf("%s:%d: a Go snippet starts with a comment naming its package (// vmtest/qemu)", docFile, b.Line)
			continue
		}
		p, ok := pkgs[fields[0]]
		if !ok {
			t.Errorf("%s:%d: the snippet's package %s is none of the module's", docFile, b.Line, fields[0])
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, docFile, "package "+p.Name+"\n"+b.Body, 0)
		if err != nil {
			t.Errorf("%s:%d: the snippet does not parse: %v", docFile, b.Line, err)
			continue
		}
		doc := index(f.Decls)
		code := index(declsOf(parsePackage(t, fset, p, 0)))
		for _, problem := range compare(doc, code) {
			t.Errorf("%s:%d (%s): %s", docFile, b.Line, p.Path, problem)
		}
	}
}

func declsOf(files []*ast.File) []ast.Decl {
	var out []ast.Decl
	for _, f := range files {
		out = append(out, f.Decls...)
	}
	return out
}

// decls are the declarations of a snippet or a package, printed.
type decls struct {
	// types maps a type's name to its members ("Name type" for a struct's
	// exported fields, "Name(params) (results)" for an interface's
	// methods), or to its definition for any other kind.
	types map[string][]string
	// funcs maps "Start" or "(*VM).Wait" to its signature.
	funcs map[string]string
	// methods maps a receiver's type name ("VM") to its exported methods.
	methods map[string][]string
	// values maps a constant or variable to its type and value.
	values map[string]value
}

type value struct{ typ, val string }

func index(ds []ast.Decl) decls {
	d := decls{types: map[string][]string{}, funcs: map[string]string{}, methods: map[string][]string{}, values: map[string]value{}}
	for _, decl := range ds {
		switch decl := decl.(type) {
		case *ast.FuncDecl:
			key := decl.Name.Name
			if decl.Recv != nil {
				recv := decl.Recv.List[0].Type
				key = "(" + typeString(recv) + ")." + key
				if decl.Name.IsExported() {
					base := strings.TrimPrefix(typeString(recv), "*")
					d.methods[base] = append(d.methods[base], decl.Name.Name)
				}
			}
			d.funcs[key] = signature(decl.Type)
		case *ast.GenDecl:
			for _, s := range decl.Specs {
				d.addSpec(s)
			}
		}
	}
	return d
}

func (d decls) addSpec(s ast.Spec) {
	switch s := s.(type) {
	case *ast.TypeSpec:
		d.types[s.Name.Name] = members(s)
	case *ast.ValueSpec:
		for i, n := range s.Names {
			var v value
			if s.Type != nil {
				v.typ = typeString(s.Type)
			}
			if i < len(s.Values) {
				v.val = typeString(s.Values[i])
			}
			d.values[n.Name] = v
		}
	}
}

// members lists what a type declaration is made of (see decls.types).
func members(s *ast.TypeSpec) []string {
	var out []string
	switch t := s.Type.(type) {
	case *ast.StructType:
		for _, f := range t.Fields.List {
			names := f.Names
			if names == nil { // embedded: named by its type
				typ := strings.TrimPrefix(typeString(f.Type), "*")
				names = []*ast.Ident{ast.NewIdent(typ[strings.LastIndex(typ, ".")+1:])}
			}
			for _, n := range names {
				if n.IsExported() {
					out = append(out, n.Name+" "+typeString(f.Type))
				}
			}
		}
	case *ast.InterfaceType:
		for _, m := range t.Methods.List {
			if ft, ok := m.Type.(*ast.FuncType); ok && len(m.Names) == 1 {
				out = append(out, m.Names[0].Name+signature(ft))
			} else {
				out = append(out, typeString(m.Type))
			}
		}
	default:
		def := "type " + typeString(s.Type)
		if s.Assign.IsValid() {
			def = "alias of " + typeString(s.Type)
		}
		out = append(out, def)
	}
	return out
}

// compare lists where the snippet's declarations are not the code's.
func compare(doc, code decls) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(doc.types)) {
		want, ok := code.types[name]
		switch {
		case !ok:
			out = append(out, "the code declares no type "+name)
		case !slices.Equal(doc.types[name], want):
			out = append(out, "type "+name+" is not the code's: "+difference(doc.types[name], want))
		}
	}
	for _, key := range slices.Sorted(maps.Keys(doc.funcs)) {
		want, ok := code.funcs[key]
		switch {
		case !ok:
			out = append(out, "the code declares no "+key)
		case doc.funcs[key] != want:
			out = append(out, key+" is shown as "+doc.funcs[key]+"; the code has "+want)
		}
	}
	for _, recv := range slices.Sorted(maps.Keys(doc.methods)) {
		shown, all := slices.Sorted(slices.Values(doc.methods[recv])), slices.Sorted(slices.Values(code.methods[recv]))
		if !slices.Equal(shown, all) {
			out = append(out, "the methods of "+recv+" are shown as "+strings.Join(shown, ", ")+"; the code's are "+strings.Join(all, ", "))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(doc.values)) {
		got, want := doc.values[name], code.values[name]
		if _, ok := code.values[name]; !ok {
			out = append(out, "the code declares no constant or variable "+name)
		} else if got.typ != "" && got.typ != want.typ || got.val != "" && got.val != want.val {
			out = append(out, name+" is shown as "+got.typ+" "+got.val+"; the code has "+want.typ+" "+want.val)
		}
	}
	return out
}

// difference says how the members a snippet shows differ from the
// code's: which it lacks, which the code has not, or their order.
func difference(shown, code []string) string {
	var parts []string
	if lack := missing(code, shown); len(lack) > 0 {
		parts = append(parts, "the snippet lacks "+strings.Join(lack, "; "))
	}
	if extra := missing(shown, code); len(extra) > 0 {
		parts = append(parts, "the code has no "+strings.Join(extra, "; "))
	}
	if len(parts) == 0 {
		return "the order differs; the code's is " + strings.Join(code, "; ")
	}
	return strings.Join(parts, ", and ")
}

// missing returns the elements of a that are not in b.
func missing(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// signature prints a function type's parameter and result types, without
// their names: "(context.Context, Config) (*VM, error)".
func signature(ft *ast.FuncType) string {
	return "(" + typeList(ft.Params) + ") (" + typeList(ft.Results) + ")"
}

// typeList prints a field list's types, one per name.
func typeList(fl *ast.FieldList) string {
	if fl == nil {
		return ""
	}
	var ts []string
	for _, f := range fl.List {
		for range max(len(f.Names), 1) {
			ts = append(ts, typeString(f.Type))
		}
	}
	return strings.Join(ts, ", ")
}

// typeString prints a type (or value) expression, the parameter names of
// the function types in it left out: a field "OnPanic func(line string)"
// is the same as "OnPanic func(string)".
func typeString(e ast.Expr) string {
	ast.Inspect(e, func(n ast.Node) bool {
		if ft, ok := n.(*ast.FuncType); ok {
			unname(ft.Params)
			unname(ft.Results)
		}
		return true
	})
	return types.ExprString(e)
}

// unname drops a field list's names, keeping one field per name.
func unname(fl *ast.FieldList) {
	if fl == nil {
		return
	}
	var out []*ast.Field
	for _, f := range fl.List {
		for range max(len(f.Names), 1) {
			out = append(out, &ast.Field{Type: f.Type})
		}
	}
	fl.List = out
}
