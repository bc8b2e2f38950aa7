package docs

import (
	"go/ast"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/kmodvm/kmodvm/internal/cachedir"
)

// repoPath is a code span that is a path in the repository when its first
// element is one of the repository's top directories: vmtest/run/plan.go,
// guest/cmd/kmodvm-agent.
var repoPath = regexp.MustCompile(`^([\w-]+)(/[\w.-]+)+/?$`)

// TestCitedFilesExist checks that every file and directory of the
// repository the prose names in code spans exists.
func TestCitedFilesExist(t *testing.T) {
	_, prose := splitDoc(readDoc(t))
	for _, span := range codeSpans(prose) {
		m := repoPath.FindStringSubmatch(span)
		if m == nil {
			if strings.HasSuffix(span, ".go") {
				t.Errorf("%s names %s without its package's directory", docFile, span)
			}
			continue
		}
		if fi, err := os.Stat(filepath.Join(moduleRoot, m[1])); err != nil || !fi.IsDir() {
			continue // a path elsewhere: arch/x86/boot/bzImage, kernels/<ID>
		}
		if _, err := os.Stat(filepath.Join(moduleRoot, strings.TrimSuffix(span, "/..."))); err != nil {
			t.Errorf("%s names %s, which does not exist", docFile, span)
		}
	}
}

// goName is a code span that cites Go: pkg.Name, pkg.Type.Member,
// Type.Member, with arguments or not: qemu.Config.ReplayCommand,
// Fetcher.Use, Spec.ID().
var goName = regexp.MustCompile(`^([A-Za-z]\w*)\.([A-Za-z]\w*)(?:\.([A-Za-z]\w*))?(?:\(.*\))?$`)

// TestCitedNamesExist checks the Go names the prose cites: in
// "pkg.Name" and "pkg.Type.Member", pkg is a package of the module
// that declares Name, or Type with Member (a field or a method); in
// "Type.Member", some package declares Type with Member; deeper names
// must say their package. A name with no capital letter (coverage.info,
// Module.symvers) is a file's, not Go's, and is left alone.
func TestCitedNamesExist(t *testing.T) {
	_, prose := splitDoc(readDoc(t))
	w := declare(t)
	for _, span := range codeSpans(prose) {
		m := goName.FindStringSubmatch(span)
		if m == nil || !hasUpper(m[2]) {
			continue
		}
		first, name, member := m[1], m[2], m[3]
		if scopes, ok := w.pkgs[first]; ok {
			if member == "" && !w.anyHas(scopes, name) || member != "" && !w.anyHasMember(scopes, name, member) {
				t.Errorf("%s cites %s: package %s declares no such name", docFile, span, first)
			}
			continue
		}
		if member != "" {
			t.Errorf("%s cites %s: say its package (pkg.Type.Member), so that it can be checked", docFile, span)
			continue
		}
		if typed, ok := w.typeNames[first]; ok && !w.anyHasMember(typed, first, name) || !ok && ast.IsExported(first) {
			t.Errorf("%s cites %s: no type %s of the module has %s", docFile, span, first, name)
		}
	}
}

func hasUpper(s string) bool { return strings.IndexFunc(s, unicode.IsUpper) >= 0 }

// A scope is what one package declares: its top-level names, and the
// fields and methods of each of its types.
type scope struct {
	top     map[string]bool
	members map[string]map[string]bool
	// aliases maps an alias type to the type it names ("runcfg.Config").
	aliases map[string]*ast.SelectorExpr
}

// hasMember reports whether the type typ of s has member, following an
// alias to another package's type.
func (s *scope) hasMember(w world, typ, member string) bool {
	if s.members[typ][member] {
		return true
	}
	if sel, ok := s.aliases[typ]; ok {
		if x, ok := sel.X.(*ast.Ident); ok {
			return w.anyHasMember(w.pkgs[x.Name], sel.Sel.Name, member)
		}
	}
	return false
}

// world is the module's declarations: the scopes of each package name
// (several commands are "main"), and those declaring each exported type.
type world struct {
	pkgs      map[string][]*scope
	typeNames map[string][]*scope
}

func (w world) anyHasMember(scopes []*scope, typ, member string) bool {
	for _, s := range scopes {
		if s.hasMember(w, typ, member) {
			return true
		}
	}
	return false
}

func (w world) anyHas(scopes []*scope, name string) bool {
	for _, s := range scopes {
		if s.top[name] {
			return true
		}
	}
	return false
}

// declare reads every package of the module.
func declare(t *testing.T) world {
	w := world{pkgs: map[string][]*scope{}, typeNames: map[string][]*scope{}}
	fset := token.NewFileSet()
	for _, p := range packages(t) {
		s := &scope{top: map[string]bool{}, members: map[string]map[string]bool{}, aliases: map[string]*ast.SelectorExpr{}}
		for _, f := range parsePackage(t, fset, p, 0) {
			for _, d := range f.Decls {
				s.add(d)
			}
		}
		w.pkgs[p.Name] = append(w.pkgs[p.Name], s)
		for name := range s.members {
			if ast.IsExported(name) {
				w.typeNames[name] = append(w.typeNames[name], s)
			}
		}
	}
	return w
}

// add records declaration d.
func (s *scope) add(d ast.Decl) {
	switch d := d.(type) {
	case *ast.FuncDecl:
		if d.Recv == nil {
			s.top[d.Name.Name] = true
			return
		}
		recv := strings.TrimPrefix(types.ExprString(d.Recv.List[0].Type), "*")
		s.member(recv, d.Name.Name)
	case *ast.GenDecl:
		for _, spec := range d.Specs {
			switch spec := spec.(type) {
			case *ast.TypeSpec:
				s.addType(spec)
			case *ast.ValueSpec:
				for _, n := range spec.Names {
					s.top[n.Name] = true
				}
			}
		}
	}
}

// addType records a type and the fields or interface methods it declares.
func (s *scope) addType(spec *ast.TypeSpec) {
	name := spec.Name.Name
	s.top[name] = true
	s.member(name, "")
	var fields *ast.FieldList
	switch t := spec.Type.(type) {
	case *ast.StructType:
		fields = t.Fields
	case *ast.InterfaceType:
		fields = t.Methods
	case *ast.SelectorExpr:
		if spec.Assign.IsValid() {
			s.aliases[name] = t
		}
	}
	if fields == nil {
		return
	}
	for _, f := range fields.List {
		for _, n := range f.Names {
			s.member(name, n.Name)
		}
		if f.Names == nil { // embedded: named by its type
			typ := strings.TrimPrefix(types.ExprString(f.Type), "*")
			s.member(name, typ[strings.LastIndex(typ, ".")+1:])
		}
	}
}

func (s *scope) member(typ, name string) {
	if s.members[typ] == nil {
		s.members[typ] = map[string]bool{}
	}
	if name != "" {
		s.members[typ][name] = true
	}
}

// TestCacheLayoutIsCachedir checks the cache layout section against
// internal/cachedir, which names the folders in code: each folder of
// cachedir.Layout is in the section's tree and named as a method in its
// prose, and each top-level entry of the tree lies in one of them.
func TestCacheLayoutIsCachedir(t *testing.T) {
	md := readDoc(t)
	sec := section(md, "Cache layout")
	blocks, prose := splitDoc(sec)
	if len(blocks) != 1 {
		t.Fatalf("the cache layout section has %d code blocks, want its tree alone", len(blocks))
	}
	var entries []string // each line's path, unindented lines only
	for line := range strings.Lines(blocks[0].Body) {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(line, " ") {
			entries = append(entries, f[0])
		}
	}
	spans := codeSpans(prose)
	root := "/cache"
	l := reflect.ValueOf(cachedir.Layout{Root: root})
	var folders []string
	for i := range l.NumMethod() {
		m := l.Type().Method(i)
		if !slices.ContainsFunc(spans, func(s string) bool { return strings.HasPrefix(s, m.Name+"(") }) {
			t.Errorf("the cache layout section does not name cachedir.Layout's %s()", m.Name)
		}
		if m.Type.NumIn() != 1 { // Kernel(id), Lock(name): inside Kernels, Locks
			continue
		}
		rel, _ := filepath.Rel(root, l.Method(i).Call(nil)[0].String())
		folders = append(folders, rel+"/")
		if !slices.ContainsFunc(entries, func(e string) bool { return strings.HasPrefix(e, rel+"/") }) {
			t.Errorf("the cache layout's tree has no %s/ (cachedir.Layout.%s)", rel, m.Name)
		}
	}
	for _, e := range entries {
		if !slices.ContainsFunc(folders, func(f string) bool { return strings.HasPrefix(e, f) }) {
			t.Errorf("the cache layout's tree has %s, in no folder of cachedir.Layout", e)
		}
	}
}
