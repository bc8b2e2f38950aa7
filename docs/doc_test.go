// Package docs holds kmodvm's design documents. Its tests keep
// architecture.md true to the code: the Go snippets declare what the code
// declares, the package table lists every package, the diagram draws only
// imports that exist, and the files, names and cache folders the prose
// cites are there. It is a package of its own, beside the document, so
// that it can read the whole module without being part of any package it
// describes.
package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

const (
	// docFile is the document the tests check.
	docFile = "architecture.md"
	// moduleRoot is the module's directory, from this package's.
	moduleRoot = ".."
	modulePath = "github.com/kmodvm/kmodvm"
)

// A pkg is one Go package of the module.
type pkg struct {
	Path  string // relative to the module root: "vmtest/qemu"
	Name  string // "qemu"
	Dir   string
	Files []string // its non-test Go files for this platform
}

// modulePackages lists the module's packages as the go command sees them
// (testdata and nested modules left out, build constraints applied).
var modulePackages = sync.OnceValues(func() ([]pkg, error) {
	cmd := exec.Command("go", "list", "-find", "-f", "{{.ImportPath}}\t{{.Name}}\t{{.Dir}}\t{{join .GoFiles \" \"}}", "./...")
	cmd.Dir = moduleRoot
	out, err := cmd.Output()
	if err != nil {
		return nil, err
	}
	var pkgs []pkg
	for line := range strings.Lines(strings.TrimSpace(string(out))) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		rel := strings.TrimPrefix(strings.TrimPrefix(f[0], modulePath), "/")
		if rel == "" {
			rel = "."
		}
		pkgs = append(pkgs, pkg{Path: rel, Name: f[1], Dir: f[2], Files: strings.Fields(f[3])})
	}
	return pkgs, nil
})

// packages returns the module's packages by their relative paths.
func packages(t *testing.T) map[string]pkg {
	t.Helper()
	list, err := modulePackages()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string]pkg{}
	for _, p := range list {
		m[p.Path] = p
	}
	return m
}

// parsePackage parses p's non-test files.
func parsePackage(t *testing.T, fset *token.FileSet, p pkg, mode parser.Mode) []*ast.File {
	t.Helper()
	var files []*ast.File
	for _, name := range p.Files {
		f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, mode)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// readDoc returns the document.
func readDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A block is a fenced code block of the document.
type block struct {
	Lang string // the word after the opening fence: "go", "mermaid"
	Line int    // the line of its first content line
	Body string
}

// splitDoc returns the document's fenced code blocks and its prose, which
// is the document with those blocks blanked out (lines kept, so that line
// numbers stay the document's).
func splitDoc(md string) (blocks []block, prose string) {
	var out strings.Builder
	var cur *block
	n := 0
	for line := range strings.Lines(md) {
		n++
		fence := strings.HasPrefix(line, "```")
		switch {
		case fence && cur == nil:
			cur = &block{Lang: strings.TrimSpace(strings.TrimPrefix(line, "```")), Line: n + 1}
		case fence:
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.Body += line
		default:
			out.WriteString(line)
			continue
		}
		out.WriteString("\n")
	}
	return blocks, out.String()
}

// blocksOf returns the blocks in language lang.
func blocksOf(md, lang string) []block {
	all, _ := splitDoc(md)
	var out []block
	for _, b := range all {
		if b.Lang == lang {
			out = append(out, b)
		}
	}
	return out
}

// section returns the prose under the level-2 heading that starts with
// title, up to the next level-2 heading.
func section(md, title string) string {
	_, after, ok := strings.Cut(md, "\n## "+title)
	if !ok {
		return ""
	}
	body, _, _ := strings.Cut(after, "\n## ")
	return body
}

var codeSpan = regexp.MustCompile("`([^`]+)`")

// codeSpans returns the inline code of markdown prose, a span broken over
// lines joined by a space.
func codeSpans(prose string) []string {
	var out []string
	for _, m := range codeSpan.FindAllStringSubmatch(prose, -1) {
		out = append(out, strings.Join(strings.Fields(m[1]), " "))
	}
	return out
}

// matchPattern reports whether the package path p is named by pattern,
// a package path or, ending in "/...", a tree of them as the go command
// reads it.
func matchPattern(pattern, p string) bool {
	if tree, ok := strings.CutSuffix(pattern, "/..."); ok {
		return p == tree || strings.HasPrefix(p, tree+"/")
	}
	return p == pattern
}
