package vmtest_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// seedUnlockedWrite copies kmod/ and drops the lock its write() takes
// around the copy into the buffer, with testdata/kcsanrace's sed script:
// the copy differs by those two lines. It returns the copy's directory
// and its driver's source.
func seedUnlockedWrite(t *testing.T) (dir, source string) {
	t.Helper()
	dir, before, after := seedKmod(t, "kcsanrace", "kcsanrace/drop-write-lock.sed")
	lock := func(s string) int { return strings.Count(s, "down_write(&drv->lock);") }
	if lock(before) != 2 || lock(after) != 1 || strings.Count(after, "up_write(&drv->lock);") != 1 ||
		strings.Count(before, "\n")-strings.Count(after, "\n") != 2 ||
		strings.Contains(after[strings.Index(after, "mmapdrv_write(struct file"):strings.Index(after, "mmapdrv_llseek(")], "drv->lock") {
		t.Fatalf("the sed script no longer drops exactly the lock of kmod/mmapdrv.c's write(): update testdata/kcsanrace")
	}
	return dir, after
}

// The seed is checked without a VM: the sed script must still find the
// lines it drops in the bundled driver.
func TestKCSANRaceSeedDropsTheWriteLock(t *testing.T) {
	seedUnlockedWrite(t)
}

// kcsanKernels returns the -kcsan kernels among the debug kernels to test
// on: the data race needs KCSAN, which no other kernel has.
func kcsanKernels() []string {
	var out []string
	for _, k := range kerneltest.DebugMatrix() {
		if strings.HasSuffix(k, "-kcsan") {
			out = append(out, k)
		}
	}
	return out
}

// A driver whose write() takes no lock races every read() of the same
// bytes. testdata/kcsanrace/test runs that race from two threads and
// checks no value, so it passes; it races at least as long as the bundled
// suite's concurrency tests do, and on until the kernel log holds a KCSAN
// report naming the driver (KCSAN samples: kmodvm's profile makes that
// likely in the first stretch, not certain), at most 20 times as long.
// kmodvm must report the race, in that test, with the driver's function
// and source line. The VM gets no --cpus: the -kcsan profile's own two.
func TestSanitizersKCSANReportsARaceNoTestObserves(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and boots a KCSAN kernel; not in -short mode")
	}
	kernels := kcsanKernels()
	if len(kernels) == 0 {
		t.Skipf("no -kcsan kernel among %s=%q (make test-debug has one)", kerneltest.EnvDebugKernels, kerneltest.DebugMatrix())
	}
	dir, source := seedUnlockedWrite(t)
	lines := map[string]int{
		"mmapdrv_write": lineOf(t, source, "left = copy_from_user(drv->buf + pos"),
		"mmapdrv_read":  lineOf(t, source, "ret = simple_read_from_buffer("),
	}
	rep, err := vmtest.RunMatrix(t.Context(), vmtest.Config{
		Kernels: kernels,
		Modules: []string{dir},
		Tests:   []string{filepath.Join("..", "testdata", "kcsanrace", "test")},
		OutDir:  t.TempDir(),
		Log:     testLog{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range rep.Kernels {
		if k.Boot == nil || k.Boot.Status != report.Pass {
			t.Errorf("%s: the VM did not run to its end: %s", k.Name, k.Error)
			continue
		}
		tt := test(t, k, "TestUnlockedWriteRacesRead")
		if !strings.Contains(tt.Output, "--- PASS") {
			t.Errorf("%s: the guest test itself did not pass: it must not observe the race\n%s", k.Name, tt.Output)
		}
		var races []report.Finding
		for _, i := range tt.Findings {
			if f := k.Findings[i]; strings.HasPrefix(f.Title, "KCSAN: data-race in ") {
				races = append(races, f)
			}
		}
		if len(races) == 0 {
			t.Errorf("%s: KCSAN reported no data race during %s (kernel findings: %d)", k.Name, tt.Name, len(k.Findings))
			continue
		}
		for _, f := range races {
			src, ok := f.Source()
			t.Logf("%s: %s at %s", k.Name, f.Title, src.Where())
			// The copy helpers are inlined into the driver's function:
			// its own line is the call's.
			at := src.FuncLine()
			want, known := lines[at.Func]
			if !ok || src.Module != "mmapdrv" || !known || at.File != filepath.Join(dir, "mmapdrv.c") || at.Line != want {
				t.Errorf("%s: %s is placed at %s %q, want mmapdrv_write or mmapdrv_read at their lines %v of %s",
					k.Name, f.Title, src, src.Where(), lines, filepath.Join(dir, "mmapdrv.c"))
			}
		}
	}
}
