package vmtest_test

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// TestMatrix runs the bundled mmapdrv driver's suite on the default kernel
// matrix (or $KMODVM_TEST_KERNELS): every kernel must build, boot, load the
// module, pass every guest test, unload it, and log no kernel bug. Every
// top-level test of the suite (as go test -list finds them) has a result
// of its own, not "not run", unless -run picks guest tests: a run that
// lost tests passes vmtest.Run's subtests as much as a full one.
func TestMatrix(t *testing.T) {
	out := os.Getenv("KMODVM_TEST_OUT")
	if out == "" {
		out = t.TempDir()
	}
	suite := filepath.Join("..", "guest", "mmapdrv")
	rep := vmtest.Run(t, vmtest.Config{
		Kernels: kerneltest.Matrix(),
		Modules: []string{filepath.Join("..", "kmod")},
		Tests:   []string{suite},
		W1:      true,
		OutDir:  out,
		// Two CPUs, so that the concurrency tests can catch a missing lock.
		CPUs: 2,
	})
	if len(rep.Kernels) == 0 {
		t.Fatal("no kernel ran")
	}
	var suiteTests []string
	if !guestNarrowed() {
		suiteTests = guestTests(t, suite)
	}
	for _, k := range rep.Kernels {
		if k.Build != nil && len(k.Build.Warnings) > 0 {
			t.Errorf("%s: the driver must build without warnings (W=1), got %d", k.Name, len(k.Build.Warnings))
		}
		wantEveryTestRan(t, k, suiteTests)
	}
}

// bundledSuiteOn runs the bundled driver's suite on Debian's 6.1 of
// arch with cpus CPUs (0: the default), and checks what every
// architecture must give: the one kernel ran as arch and passed, the
// driver built without warnings (W=1), the kernel logged no bug, and
// every test of the suite has a result.
func bundledSuiteOn(t *testing.T, arch string, cpus int) *report.Kernel {
	t.Helper()
	return bundledSuiteOnSeries(t, arch, "6.1", cpus)
}

// bundledSuiteOnSeries is bundledSuiteOn on series, for an architecture
// Debian has no 6.1 of.
func bundledSuiteOnSeries(t *testing.T, arch, series string, cpus int) *report.Kernel {
	t.Helper()
	suite := filepath.Join("..", "guest", "mmapdrv")
	rep := vmtest.Run(t, vmtest.Config{
		Kernels: []string{series},
		Arch:    []string{arch},
		Modules: []string{filepath.Join("..", "kmod")},
		Tests:   []string{suite},
		W1:      true,
		OutDir:  t.TempDir(),
		CPUs:    cpus,
	})
	if len(rep.Kernels) != 1 {
		t.Fatalf("%d kernels ran, want %s %s alone", len(rep.Kernels), arch, series)
	}
	k := rep.Kernels[0]
	if k.Arch != arch {
		t.Errorf("%s ran as %q, want %s", k.Name, k.Arch, arch)
	}
	if k.Status != report.Pass {
		t.Errorf("%s: %s, want pass", k.Name, k.Status)
	}
	if k.Build == nil || len(k.Build.Warnings) > 0 {
		t.Errorf("%s: the driver must build without warnings (W=1): %+v", k.Name, k.Build)
	}
	if bugs := k.Bugs(); len(bugs) > 0 {
		t.Errorf("%s: %d findings, want none (taint notes aside): %+v", k.Name, len(bugs), bugs)
	}
	if !guestNarrowed() {
		wantEveryTestRan(t, k, guestTests(t, suite))
	}
	return k
}

// guestTests lists the top-level tests of the Go package in dir, as go
// test -list finds them: the tests a run of the package must report.
func guestTests(t *testing.T, dir string) []string {
	t.Helper()
	out, err := exec.Command("go", "test", "-list", "^Test", dir).Output()
	if err != nil {
		t.Fatalf("go test -list %s: %v", dir, err)
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Test") {
			names = append(names, l)
		}
	}
	if len(names) == 0 {
		t.Fatalf("go test -list %s lists no test:\n%s", dir, out)
	}
	return names
}

// wantEveryTestRan checks that each of names has a top-level result on k
// that says it ran (passed, failed, skipped...), none "not run".
func wantEveryTestRan(t *testing.T, k *report.Kernel, names []string) {
	t.Helper()
	got := map[string]report.Status{}
	for _, tr := range k.Tests {
		if !strings.Contains(tr.Name, "/") {
			got[tr.Name] = tr.Status
		}
	}
	for _, n := range names {
		switch st, ok := got[n]; {
		case !ok:
			t.Errorf("%s: %s has no result", k.Name, n)
		case st == report.NotRun:
			t.Errorf("%s: %s did not run", k.Name, n)
		}
	}
}

// guestNarrowed reports whether -run selects guest tests
// (TestMatrix/<kernel>/<test>), so that fewer of them run.
func guestNarrowed() bool {
	f := flag.Lookup("test.run")
	return f != nil && strings.Count(f.Value.String(), "/") >= 2
}
