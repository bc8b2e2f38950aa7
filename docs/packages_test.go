package docs

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// A row of the package table: its package (or tree) and its side.
type row struct{ pattern, side string }

// packageTable reads the Packages section's table.
func packageTable(t *testing.T) []row {
	var rows []row
	for line := range strings.Lines(section(readDoc(t), "Packages")) {
		if cells := strings.Split(line, "|"); len(cells) > 3 && strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			rows = append(rows, row{strings.Trim(strings.TrimSpace(cells[1]), "`"), strings.TrimSpace(cells[2])})
		}
	}
	if len(rows) == 0 {
		t.Fatalf("%s has no package table under ## Packages", docFile)
	}
	return rows
}

// TestPackageTableListsEveryPackage checks the Packages section's table
// against the module: every package is named by a row (a package path, or
// a tree "bench/..." for the commands and benchmarks nothing imports), and
// every row names a package or, like kmod, a directory of the module with
// no Go in it.
func TestPackageTableListsEveryPackage(t *testing.T) {
	rows := packageTable(t)
	pkgs := packages(t)
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.pattern] {
			t.Errorf("the package table has two rows for %s", r.pattern)
		}
		seen[r.pattern] = true
		if !namesPackage(r.pattern, pkgs) && !isPlainDir(r.pattern, pkgs) {
			t.Errorf("the package table's row %s names no package or directory of the module", r.pattern)
		}
	}
	for p := range pkgs {
		if sideOf(rows, p) == "" {
			t.Errorf("package %s has no row in the package table", p)
		}
	}
}

// TestHostAndGuestMeetOnlyInShared checks the table's sides against the
// imports: a host package imports no guest package, and a guest package
// no host package; what both use is marked both.
func TestHostAndGuestMeetOnlyInShared(t *testing.T) {
	rows := packageTable(t)
	pkgs := packages(t)
	for p, imported := range importGraph(t, pkgs) {
		from := sideOf(rows, p)
		for q := range imported {
			if to := sideOf(rows, q); (from == "host" || from == "guest") && (to == "host" || to == "guest") && from != to {
				t.Errorf("%s (%s) imports %s (%s): the table says they meet only in packages of both sides", p, from, q, to)
			}
		}
	}
}

// sideOf is the side of the first row that names package p, "" if none
// does.
func sideOf(rows []row, p string) string {
	for _, r := range rows {
		if matchPattern(r.pattern, p) {
			return r.side
		}
	}
	return ""
}

func namesPackage(pattern string, pkgs map[string]pkg) bool {
	for p := range pkgs {
		if matchPattern(pattern, p) {
			return true
		}
	}
	return false
}

// isPlainDir reports whether dir is a directory of the module that holds
// no package.
func isPlainDir(dir string, pkgs map[string]pkg) bool {
	fi, err := os.Stat(filepath.Join(moduleRoot, dir))
	return err == nil && fi.IsDir() && !namesPackage(dir+"/...", pkgs)
}

// The diagram's lines: a node, an edge, or layout.
var (
	mermaidNode = regexp.MustCompile(`^(\w+)(\(\[|\[)"(.*)"(\]\)|\])$`)
	mermaidEdge = regexp.MustCompile(`^(\w+) (-\.->|==>)(?:\|([^|"]*)\|)? (\w+)$`)
	mermaidMisc = regexp.MustCompile(`^(flowchart \w+|subgraph \w+ \[[^]"]*\]|end|direction \w+|%%.*)$`)
)

// TestDiagramDrawsRealImports reads the document's Mermaid diagram, which
// may hold only: rounded nodes (["..."]) for the inputs; square nodes
// ["path<br/>..."] whose first line names packages (a path, or a tree
// "internal/..."); dotted arrows a -.-> b, each an import of b's package
// by a's, as go/parser reads the code; and thick arrows a ==>|data: ...| b
// for data, labelled with what flows; and subgraphs (subgraph id [title]).
func TestDiagramDrawsRealImports(t *testing.T) {
	blocks := blocksOf(readDoc(t), "mermaid")
	if len(blocks) == 0 {
		t.Fatalf("%s has no Mermaid diagram", docFile)
	}
	pkgs := packages(t)
	imports := importGraph(t, pkgs)
	for _, b := range blocks {
		nodes := map[string]string{} // id -> package path or pattern; "" for an input
		n := b.Line - 1
		for line := range strings.Lines(b.Body) {
			n++
			line = strings.TrimSpace(line)
			if m := mermaidNode.FindStringSubmatch(line); m != nil {
				nodes[m[1]] = nodePackages(t, n, m, pkgs)
				continue
			}
			if m := mermaidEdge.FindStringSubmatch(line); m != nil {
				checkEdge(t, n, m, nodes, imports)
				continue
			}
			if line != "" && !mermaidMisc.MatchString(line) {
				t.Errorf("%s:%d: the diagram's line %q is neither a node, an arrow nor layout", docFile, n, line)
			}
		}
	}
}

// nodePackages returns what the node of m names: the package path of a
// square node (which must name a package), "" for a rounded one.
func nodePackages(t *testing.T, line int, m []string, pkgs map[string]pkg) string {
	if m[2] == "([" {
		return ""
	}
	path, _, _ := strings.Cut(m[3], "<br/>")
	if !namesPackage(path, pkgs) {
		t.Errorf("%s:%d: the diagram's node %s is %q, which names no package of the module", docFile, line, m[1], path)
	}
	return path
}

// checkEdge checks the arrow of m between nodes.
func checkEdge(t *testing.T, line int, m []string, nodes map[string]string, imports map[string]map[string]bool) {
	from, fok := nodes[m[1]]
	to, tok := nodes[m[4]]
	if !fok || !tok {
		t.Errorf("%s:%d: an arrow between %s and %s, not both drawn before it", docFile, line, m[1], m[4])
		return
	}
	if m[2] == "==>" {
		if !strings.HasPrefix(m[3], "data: ") {
			t.Errorf("%s:%d: the data arrow %s ==> %s says not what flows (|data: ...|)", docFile, line, m[1], m[4])
		}
		return
	}
	if m[3] != "" || !imports[from][to] {
		t.Errorf("%s:%d: the diagram draws %s importing %s, which it does not", docFile, line, from, to)
	}
}

// importGraph maps each package to the module's packages it imports.
func importGraph(t *testing.T, pkgs map[string]pkg) map[string]map[string]bool {
	g := map[string]map[string]bool{}
	fset := token.NewFileSet()
	for path, p := range pkgs {
		g[path] = map[string]bool{}
		for _, f := range parsePackage(t, fset, p, parser.ImportsOnly) {
			for _, imp := range f.Imports {
				ip, _ := strconv.Unquote(imp.Path.Value)
				if rel, ok := strings.CutPrefix(ip, modulePath+"/"); ok {
					g[path][rel] = true
				}
			}
		}
	}
	return g
}
