package vmtest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/harness"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// seedFuzzBug copies kmod/ and adds testdata/fuzzbug's ioctl command that
// writes past a 16-byte allocation.
func seedFuzzBug(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fuzzbug")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "kmod"))); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "mmapdrv.c")
	if out, err := exec.Command("sed", "-i", "-f", filepath.Join("..", "testdata", "fuzzbug", "ioctl-oob.sed"), src).CombinedOutput(); err != nil {
		t.Fatalf("sed: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(src); err != nil || !strings.Contains(string(b), "_IO(MMAPDRV_IOC_MAGIC, 0x2a)") {
		t.Fatalf("the sed script no longer seeds kmod/mmapdrv.c's ioctl (%v): update testdata/fuzzbug", err)
	}
	return dir
}

// A short fuzz job of the bundled harness on the driver with the seeded
// shallow bug finds it: the job's test fails with KASAN's report, placed
// at the driver's line.
func TestFuzzFindsTheSeededIoctlBug(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a debug kernel; not in -short mode")
	}
	mod := seedFuzzBug(t)
	a, err := arch.Lookup(arch.Default)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "harness")
	if err := harness.Build(t.Context(), harness.Options{Source: filepath.Join("..", "kmod", "fuzz", "mmapdrv_fuzz.c"), Out: bin, Arch: a}); err != nil {
		t.Fatal(err)
	}
	rep, err := vmtest.RunMatrix(t.Context(), vmtest.Config{
		Kernels:     []string{"6.1-debug"},
		Modules:     []string{mod},
		OutDir:      t.TempDir(),
		Jobs:        1,
		TestTimeout: 4 * time.Minute,
		Fuzz:        &vmtest.Fuzz{Binary: bin, Arch: a.Name, Args: []string{"-max_total_time=120", "-seed=1"}},
		Log:         testLog{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	k := rep.Kernels[0]
	var job *report.Test
	for _, tt := range k.Tests {
		if tt.Package == "fuzz" && tt.Name == "fuzz" {
			job = tt
		}
	}
	if job == nil || job.Status != report.Fail || !strings.Contains(job.Output, "kmodvm-kcov: inputs:") {
		t.Fatalf("the fuzz job: %+v, want a failed test with the glue's counts", job)
	}
	found := false
	for _, f := range k.Bugs() {
		if strings.Contains(f.Title, "KASAN: slab-out-of-bounds Write in mmapdrv_ioctl") {
			found = true
			placed := false
			for _, fr := range f.Frames {
				placed = placed || (fr.Func == "mmapdrv_ioctl" && strings.HasSuffix(fr.File, "mmapdrv.c") && fr.Line > 0)
			}
			if !placed {
				t.Errorf("%s: frames %+v, want mmapdrv_ioctl's at its line", f.Title, f.Frames)
			}
		}
	}
	if !found {
		t.Errorf("findings %+v: want the seeded KASAN report", k.Bugs())
	}
}
