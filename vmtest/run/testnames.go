package run

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/arch"
)

// The guest tests a binary declares, and what its -test.run and -test.skip
// let run: what a reboot looks at before it boots for the tests left.

// knownTests lists, per binary, the top-level tests its package's sources
// declare for the guest's GOOS and GOARCH (build constraints applied); a
// binary whose sources cannot be read is left out (unknown). The binaries
// are Config.Tests' packages, in order.
func (run *kernelRun) knownTests(bins []event.TestBinary) map[string][]string {
	tests := run.r.cfg.Tests
	a, err := arch.Lookup(run.k.Arch)
	if err != nil || len(bins) != len(tests) {
		return map[string][]string{}
	}
	known := map[string][]string{}
	for i, tb := range bins {
		if names, err := testNames(tests[i], a.GOARCH); err == nil {
			known[tb.Name] = names
		}
	}
	return known
}

// testNames returns the top-level tests (func TestXxx) declared by the test
// files of the Go package in dir, built for linux/goarch.
func testNames(dir, goarch string) ([]string, error) {
	bc := build.Default
	bc.GOOS, bc.GOARCH, bc.CgoEnabled = "linux", goarch, false
	pkg, err := bc.ImportDir(dir, 0)
	if err != nil {
		return nil, err
	}
	var names []string
	fset := token.NewFileSet()
	for _, f := range append(append([]string{}, pkg.TestGoFiles...), pkg.XTestGoFiles...) {
		file, err := parser.ParseFile(fset, filepath.Join(dir, f), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if ok && fn.Recv == nil && isTestName(fn.Name.Name) && fn.Name.Name != "TestMain" {
				names = append(names, fn.Name.Name)
			}
		}
	}
	return names, nil
}

// isTestName is go test's rule: "Test", then nothing or no lower-case
// letter.
func isTestName(name string) bool {
	rest, ok := strings.CutPrefix(name, "Test")
	if !ok {
		return false
	}
	if rest == "" {
		return true
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return !unicode.IsLower(r)
}

// pending keeps the binaries of rest that have a test left to run: one
// their sources declare (known), that their -test.run and -test.skip let
// run, and that has no result yet (done). A binary whose tests are unknown
// is kept: a reboot that finds nothing costs a boot, a test never run
// costs more.
func pending(rest []event.TestBinary, known, done map[string][]string) []event.TestBinary {
	var out []event.TestBinary
	for _, tb := range rest {
		names, ok := known[tb.Name]
		if !ok {
			out = append(out, tb)
			continue
		}
		run, skip := topLevelFilters(tb.Args)
		for _, n := range names {
			if (run == nil || run.MatchString(n)) && (skip == nil || !skip.MatchString(n)) && !slices.Contains(done[tb.Name], n) {
				out = append(out, tb)
				break
			}
		}
	}
	return out
}

// topLevelFilters returns what the last -test.run and -test.skip of args
// say about top-level tests: the first element of each pattern, as go test
// matches it; nil where there is none, or it does not compile, or (for
// -test.skip, which skips only a whole test when its pattern has one
// element) it names subtests.
func topLevelFilters(args []string) (run, skip *regexp.Regexp) {
	var runPat, skipPat string
	for i := 0; i < len(args); i++ {
		a := strings.TrimPrefix(args[i], "-")
		for _, flag := range []string{"test.run", "test.skip"} {
			v, ok := strings.CutPrefix(a, "-"+flag+"=")
			if !ok {
				v, ok = strings.CutPrefix(a, flag+"=")
			}
			if !ok && (a == flag || a == "-"+flag) && i+1 < len(args) {
				v, ok = args[i+1], true
			}
			if ok && flag == "test.run" {
				runPat = v
			} else if ok {
				skipPat = v
			}
		}
	}
	if runPat != "" {
		run, _ = regexp.Compile(SplitPattern(runPat)[0])
	}
	if skipPat != "" && len(SplitPattern(skipPat)) == 1 {
		skip, _ = regexp.Compile(skipPat)
	}
	return run, skip
}

// SplitPattern splits a -run (or -skip) pattern at slashes outside
// brackets and parentheses, as the testing package does: one element per
// level of subtests.
func SplitPattern(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[', '(':
			depth++
		case ']', ')':
			depth--
		case '\\':
			i++
		case '/':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}
