package vmtest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
)

// seedErrPathBug copies kmod/ and gives its GET_STATS ioctl a double free
// on an allocation failure with testdata/errpath's sed script, so that
// the seeded driver cannot drift from the bundled one. It returns the
// copy's directory and the driver's seeded source.
func seedErrPathBug(t *testing.T) (dir, source string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "errpath")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "kmod"))); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "mmapdrv.c")
	if out, err := exec.Command("sed", "-i", "-f", filepath.Join("..", "testdata", "errpath", "stats-double-free.sed"), src).CombinedOutput(); err != nil {
		t.Fatalf("sed: %v\n%s", err, out)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(b), "kfree(st);") != 2 || strings.Count(string(b), "#include <linux/slab.h>") != 1 {
		t.Fatalf("the sed script no longer rewrites kmod/mmapdrv.c's mmapdrv_get_stats: update testdata/errpath")
	}
	return dir, string(b)
}

// The bundled driver with a double free on the failure of its GET_STATS
// ioctl's second allocation passes every test while allocations succeed.
// The suite's FailEach sweep of that ioctl fails each of its injectable
// calls in turn, and on the debug kernels KASAN's double-free report is
// the one finding, of the one point that failed that allocation, at the
// second kfree's line; the sweep's other points pass, and it ends with a
// point where nothing failed.
func TestFailEachSweepFindsSeededDoubleFreeInItsPoint(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and boots debug kernels; not in -short mode")
	}
	dir, source := seedErrPathBug(t)
	line := lineOf(t, source, "out_free:") + 1
	const sweep = "TestEachInjectedFailureIsHandled/ioctl-get-stats"
	rep, err := vmtest.RunMatrix(t.Context(), vmtest.Config{
		Kernels:  kerneltest.DebugMatrix(),
		Modules:  []string{dir},
		Tests:    []string{filepath.Join("..", "guest", "mmapdrv")},
		TestArgs: []string{"-test.run=^TestEachInjectedFailureIsHandled$/^ioctl-get-stats$"},
		OutDir:   t.TempDir(),
		Jobs:     1,
		Log:      testLog{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range rep.Kernels {
		bugs := k.Bugs()
		if len(bugs) != 1 {
			for _, f := range bugs {
				t.Logf("%s: %s (%s)", k.Name, f.Headline(), f.Where())
			}
			t.Fatalf("%s: %d findings, want 1", k.Name, len(bugs))
		}
		f := bugs[0]
		src, ok := f.Source()
		t.Logf("%s: %s during %s at %s", k.Name, f.Title, f.Test, src.Where())
		point, isPoint := strings.CutPrefix(f.Test, "mmapdrv: "+sweep+"/fail-nth=")
		if f.Kind != "KASAN" || !strings.Contains(f.Title, "double-free") || !isPoint {
			t.Errorf("%s: %s: %q during %q, want a KASAN double-free during a point of %s", k.Name, f.Kind, f.Title, f.Test, sweep)
		}
		if !ok || src.File != filepath.Join(dir, "mmapdrv.c") || src.Line != line {
			t.Errorf("%s: the double free is at %q, want %s:%d", k.Name, src.Where(), filepath.Join(dir, "mmapdrv.c"), line)
		}
		points, clean := 0, false
		for _, tt := range k.Tests {
			n, ok := strings.CutPrefix(tt.Name, sweep+"/fail-nth=")
			if !ok {
				continue
			}
			points++
			clean = clean || strings.Contains(tt.Output, "no call failed")
			if failed := tt.Status.Failed(); failed != (n == point) {
				t.Errorf("%s: %s is %s\n%s", k.Name, tt.Name, tt.Status, tt.Output)
			}
			if n == point && !strings.Contains(tt.Output, "failed; the operation returned cannot allocate memory") {
				t.Errorf("%s: %s says nothing of an ENOMEM:\n%s", k.Name, tt.Name, tt.Output)
			}
		}
		if points < 3 || !clean {
			t.Errorf("%s: %d points, the last with nothing failed %v; want at least the two allocations' and a clean one", k.Name, points, clean)
		}
	}
}
