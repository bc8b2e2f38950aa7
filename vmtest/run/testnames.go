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

// known returns knownTests of the first VM's binaries (all of the run's),
// read once: a reboot, and the collector of every VM that a kernel crash
// ended, ask for them.
func (run *kernelRun) known() map[string][]string {
	if run.knownByBinary == nil && run.img != nil {
		run.knownByBinary = run.knownTests(run.img.run.Tests)
	}
	return run.knownByBinary
}

// testOrder returns, for the collector of a VM running bins
// (collect.Options.Order), the top-level tests each binary runs, in the
// order it runs them: those its sources declare (known) that its
// -test.run and -test.skip select. Unknown for a binary whose sources
// could not be read, or that shuffles its tests (-test.shuffle).
func (run *kernelRun) testOrder(bins []event.TestBinary) func(binary string) ([]string, bool) {
	return func(binary string) ([]string, bool) {
		i := slices.IndexFunc(bins, func(tb event.TestBinary) bool { return tb.Name == binary })
		if i < 0 || shuffled(bins[i].Args) {
			return nil, false
		}
		names, ok := run.known()[binary]
		if !ok {
			return nil, false
		}
		return selected(names, bins[i].Args), true
	}
}

// knownTests lists, per binary, the top-level tests its package's sources
// declare for the guest's GOOS and GOARCH (build constraints applied), in
// the order go test runs them (that of -test.list: the package's test
// files, then its external test package's, each by file name, each in
// declaration order); a binary whose sources cannot be read is left out
// (unknown). The binaries are Config.Tests' packages, in order.
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
// files of the Go package in dir, built for linux/goarch, in go test's
// order: cmd/go lists them from the same file lists (go/build sorts each
// by name) and walks each file's declarations in turn.
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
		for _, n := range selected(names, tb.Args) {
			if !slices.Contains(done[tb.Name], n) {
				out = append(out, tb)
				break
			}
		}
	}
	return out
}

// selected returns the top-level tests of names that the -test.run and
// -test.skip of args let run, in names' order.
func selected(names, args []string) []string {
	run, skip := topLevelFilters(args)
	var out []string
	for _, n := range names {
		if (run == nil || run.MatchString(n)) && (skip == nil || !skip.MatchString(n)) {
			out = append(out, n)
		}
	}
	return out
}

// shuffled says whether args run the tests in a random order
// (-test.shuffle other than off): then the order of the sources is not
// the order they run in.
func shuffled(args []string) bool {
	v, ok := lastFlag(args, "test.shuffle")
	return ok && v != "off"
}

// topLevelFilters returns what the last -test.run and -test.skip of args
// say about top-level tests: the first element of each pattern, as go test
// matches it; nil where there is none, or it does not compile, or (for
// -test.skip, which skips only a whole test when its pattern has one
// element) it names subtests.
func topLevelFilters(args []string) (run, skip *regexp.Regexp) {
	runPat, _ := lastFlag(args, "test.run")
	skipPat, _ := lastFlag(args, "test.skip")
	if runPat != "" {
		run, _ = regexp.Compile(SplitPattern(runPat)[0])
	}
	if skipPat != "" && len(SplitPattern(skipPat)) == 1 {
		skip, _ = regexp.Compile(skipPat)
	}
	return run, skip
}

// lastFlag returns the value of the last flag of args named flag, as the
// flag package reads it: -flag=v, --flag=v, or -flag v; false if none.
func lastFlag(args []string, flag string) (v string, ok bool) {
	for i := 0; i < len(args); i++ {
		a := strings.TrimPrefix(args[i], "-")
		w, found := strings.CutPrefix(a, "-"+flag+"=")
		if !found {
			w, found = strings.CutPrefix(a, flag+"=")
		}
		if !found && (a == flag || a == "-"+flag) && i+1 < len(args) {
			w, found = args[i+1], true
		}
		if found {
			v, ok = w, true
		}
	}
	return v, ok
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
