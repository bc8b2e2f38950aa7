package vmtest_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// filterKernels are the kernels of the debug matrix with the fault
// injection's stack-trace filter, which --scoped-faults needs: on amd64,
// those of 6.2 and later (make test-debug's 7.3-debug; make test's
// 6.1-debug has none).
func filterKernels(t *testing.T) []string {
	var out []string
	for _, sel := range kerneltest.DebugMatrix() {
		series, _, _ := strings.Cut(sel, "-")
		maj, min, ok := strings.Cut(series, ".")
		a, err1 := strconv.Atoi(maj)
		b, err2 := strconv.Atoi(min)
		if ok && err1 == nil && err2 == nil && (a > 6 || a == 6 && b >= 2) {
			out = append(out, sel)
		}
	}
	if len(out) == 0 {
		t.Skipf("no kernel of the debug matrix (%s) has the stack-trace filter: make test-debug runs 7.3-debug", kerneltest.DebugMatrix())
	}
	return out
}

// With every call from the module's code failing while the suite runs
// (--scoped-faults 100), the bundled driver passes its errors on and the
// kernel finds nothing: the tests those failures broke are skipped with
// kmodvm's note, the suite's own fail-nth tests skip themselves, and the
// kernel passes. The driver seeded with a swallowed allocation failure
// (its GET_STATS ioctl uses the NULL kzalloc returned) gets the kernel's
// report of the NULL dereference at that line, and fails.
func TestScopedFaultsJudgeByTheKernel(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and boots debug kernels; not in -short mode")
	}
	kernels := filterKernels(t)
	seeded, source := seedNullUse(t)
	line := lineOf(t, source, "st->reads = atomic64_read(&drv->reads);")
	for _, c := range []struct {
		name, module string
		bug          bool
		args         []string
	}{
		{"bundled", filepath.Join("..", "kmod"), false, nil},
		// The one test of the ioctl: with every GET_STATS an Oops, the
		// suite's other users of it would each cost a reboot.
		{"seeded NULL use", seeded, true, []string{"-test.run=^TestStatsCount$"}},
	} {
		rep, err := vmtest.RunMatrix(t.Context(), vmtest.Config{
			Kernels: kernels, Modules: []string{c.module}, Tests: []string{filepath.Join("..", "guest", "mmapdrv")},
			TestArgs: c.args, ScopeFaults: 100, OutDir: t.TempDir(), Jobs: 1, Log: testLog{t},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range rep.Kernels {
			excused, selfSkipped := 0, 0
			for _, tt := range k.Tests {
				excused += strings.Count(tt.Output, "failed under --scoped-faults")
				if tt.Status == report.Skip && strings.Contains(tt.Output, "the run's --scoped-faults fail the module's calls") {
					selfSkipped++
				}
			}
			bugs := k.Bugs()
			t.Logf("%s, %s: %s, %d findings, %d tests skipped by kmodvm, %d by themselves", c.name, k.Name, k.Status, len(bugs), excused, selfSkipped)
			if !c.bug {
				if k.Status != report.Pass || len(bugs) != 0 || excused == 0 || selfSkipped == 0 {
					t.Errorf("%s on %s: %s with %d findings, %d excused, %d self-skipped; want a pass, none, some, some",
						c.name, k.Name, k.Status, len(bugs), excused, selfSkipped)
				}
				continue
			}
			found := false
			for _, f := range bugs {
				src, ok := f.Source()
				t.Logf("%s: %s at %s", k.Name, f.Title, src.Where())
				found = found || (ok && src.Line == line && strings.HasSuffix(src.File, "mmapdrv.c"))
			}
			if k.Status != report.Fail || !found {
				t.Errorf("%s on %s: %s, findings %d; want a fail with the NULL dereference at mmapdrv.c:%d", c.name, k.Name, k.Status, len(bugs), line)
			}
		}
	}
}

// seedNullUse is seedErrPathBug's driver with its GET_STATS ioctl's first
// allocation unchecked: when kzalloc fails, the counters are written
// through NULL.
func seedNullUse(t *testing.T) (dir, source string) {
	t.Helper()
	dir, source = seedErrPathBug(t)
	check := "\tst = kzalloc(sizeof(*st), GFP_KERNEL);\n\tif (!st)\n\t\treturn -ENOMEM;\n"
	if strings.Count(source, check) != 1 {
		t.Fatalf("testdata/errpath's driver no longer checks kzalloc as %q", check)
	}
	source = strings.Replace(source, check, "\tst = kzalloc(sizeof(*st), GFP_KERNEL);\n", 1)
	if err := os.WriteFile(filepath.Join(dir, "mmapdrv.c"), []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, source
}
