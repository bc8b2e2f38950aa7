package vmtest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// seedKmod copies kmod/ into a directory of the test's named name and
// edits the copy's mmapdrv.c with the sed script testdata/script, so that
// a seeded bug cannot drift from the bundled driver. It returns the
// copy's directory and the driver's source before and after the edit, for
// the caller to check that the script still does what it says.
func seedKmod(t *testing.T, name, script string) (dir, before, after string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), name)
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "kmod"))); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "mmapdrv.c")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sed", "-i", "-f", filepath.Join("..", "testdata", filepath.FromSlash(script)), src).CombinedOutput(); err != nil {
		t.Fatalf("sed: %v\n%s", err, out)
	}
	a, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	return dir, string(b), string(a)
}

// seedPageRefBug copies kmod/ and drops the get_page of its fault handler
// with testdata/pageref's sed script: the copy differs by that one line.
func seedPageRefBug(t *testing.T) string {
	t.Helper()
	dir, before, after := seedKmod(t, "pageref", "pageref/drop-get-page.sed")
	if strings.Count(before, "get_page(page);") != 1 || strings.Contains(after, "get_page(") ||
		strings.Count(before, "\n")-strings.Count(after, "\n") != 1 {
		t.Fatalf("the sed script no longer drops exactly kmod/mmapdrv.c's one get_page(page): update testdata/pageref")
	}
	return dir
}

// declaredTests lists the top-level tests of the Go test package in dir.
func declaredTests(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no tests in %s: %v", dir, err)
	}
	var names []string
	decl := regexp.MustCompile(`(?m)^func (Test[A-Z]\w*)\(t \*testing\.T\)`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
			names = append(names, m[1])
		}
	}
	return names
}

// The bundled driver with its fault handler's page reference dropped
// corrupts the kernel's memory in test after test, the guest's agent
// included. The run still ends, failed, within three minutes (no wait
// for a VM's timeout, a bounded reboot budget), names each bug once with
// the driver's line where a report places it there, and accounts for
// every test of the suite: a verdict, or not run because of named crashes.
func TestPageReferenceBugEndsInThreeMinutesWithEveryTestAccountedFor(t *testing.T) {
	if testing.Short() {
		t.Skip("boots kernels")
	}
	mod := seedPageRefBug(t)
	suite := filepath.Join("..", "guest", "mmapdrv")
	// The run's logs are what tells a failure of this test apart: kept
	// when it fails.
	out, err := os.MkdirTemp("", "kmodvm-pageref-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the run's logs: %s", out)
			return
		}
		os.RemoveAll(out)
	})
	start := time.Now()
	rep, err := vmtest.RunMatrix(t.Context(), vmtest.Config{Kernels: []string{"6.1"}, Modules: []string{mod},
		Tests: []string{suite}, OutDir: out, Jobs: 1, Offline: true})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	k := rep.Kernels[0]
	c := k.Counts()
	t.Logf("%s in %s: %d passed, %d failed, %d skipped, %d other; %d reboots; %s", k.Status, took.Round(time.Second), c.Pass, c.Fail, c.Skip, c.Other, len(k.Reboots), k.Note)
	if !rep.Failed() || rep.InfraError() || k.Status != report.Fail {
		t.Errorf("kernel %s (%s): want fail, exit 1", k.Status, k.Error)
	}
	if took > 3*time.Minute {
		t.Errorf("the run took %s, want under 3 minutes", took.Round(time.Second))
	}
	if c.Pass < 30 {
		t.Errorf("%d tests passed, want at least 30", c.Pass)
	}
	titles := map[string]int{}
	for _, f := range k.Bugs() {
		titles[f.Kind+": "+f.Title]++
		if f.Handler != nil && f.Handler.Module == "mmapdrv" {
			if fr, ok := f.Source(); !ok || !strings.HasSuffix(fr.File, "mmapdrv.c") || fr.Line == 0 {
				t.Errorf("%s names mmapdrv's %s but no line of mmapdrv.c: %s %q", f.Title, f.Handler.Func, fr, fr.Where())
			}
		}
	}
	for title, n := range titles {
		if n > 1 {
			t.Errorf("%s is listed %d times", title, n)
		}
	}
	have := map[string]*report.Test{}
	for _, tt := range k.Tests {
		have[tt.Name] = tt
		if tt.Status == report.NotRun && !strings.HasPrefix(tt.Output, "not run: the kernel crashed") {
			t.Errorf("%s did not run and says no crash: %q", tt.Name, tt.Output)
		}
	}
	for _, name := range declaredTests(t, suite) {
		if have[name] == nil {
			t.Errorf("%s has neither a verdict nor a not-run entry", name)
		}
	}
}
