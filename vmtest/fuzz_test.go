package vmtest_test

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
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
// at the driver's line, and the input that ran before the report is kept
// as crash-<sha1>. Replayed (Fuzz.Replay), that input alone brings the
// same finding.
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
	const title = "KASAN: slab-out-of-bounds Write in mmapdrv_ioctl"
	corpus := t.TempDir()
	k := fuzzSeeded(t, mod, &vmtest.Fuzz{Binary: bin, Arch: a.Name, Args: []string{"-max_total_time=120", "-seed=1"}, Corpus: corpus})
	job := fuzzTest(t, k)
	checkCorpus(t, corpus, job.Output)
	if !strings.Contains(job.Output, "kmodvm-kcov: inputs:") {
		t.Errorf("the fuzz job's output lacks the glue's counts:\n%s", job.Output)
	}
	checkSeededFinding(t, k, title)
	crash := keptCrash(t, k)
	if !strings.Contains(job.Output, crash) {
		t.Errorf("the fuzz job's output does not name %s", crash)
	}
	replayed := fuzzSeeded(t, mod, &vmtest.Fuzz{Binary: bin, Arch: a.Name, Replay: crash})
	fuzzTest(t, replayed)
	checkSeededFinding(t, replayed, title)
	checkReproReplays(t, replayed, crash)
}

// checkReproReplays checks k's repro.sh boots the image with the input
// crash in it and the harness told to run it.
func checkReproReplays(t *testing.T, k *report.Kernel, crash string) {
	t.Helper()
	repro, err := os.ReadFile(k.Files["repro.sh"])
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(k.Files["repro.sh"])
	input, err := os.ReadFile(filepath.Join(dir, "initramfs-fuzz-input.cpio"))
	if err != nil {
		t.Fatal(err)
	}
	run, err := os.ReadFile(filepath.Join(dir, "initramfs-run.cpio"))
	if err != nil {
		t.Fatal(err)
	}
	guestPath := "/fuzz/replay/" + filepath.Base(crash)
	if !strings.Contains(string(repro), "initramfs-fuzz-input.cpio") || !strings.Contains(string(input), filepath.Base(crash)) ||
		!strings.Contains(string(run), guestPath) {
		t.Errorf("repro.sh does not boot the input's layer, or the run's configuration does not replay %s:\n%s", guestPath, repro)
	}
}

// fuzzSeeded runs the fuzz job f on 6.1-debug with the module mod.
func fuzzSeeded(t *testing.T, mod string, f *vmtest.Fuzz) *report.Kernel {
	t.Helper()
	rep, err := vmtest.RunMatrix(t.Context(), vmtest.Config{
		Kernels:     []string{"6.1-debug"},
		Modules:     []string{mod},
		OutDir:      t.TempDir(),
		Jobs:        1,
		TestTimeout: 4 * time.Minute,
		Fuzz:        f,
		Log:         testLog{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep.Kernels[0]
}

// fuzzTest is k's fuzz job, which must have failed, once: the harness's
// exit is no test of its own.
func fuzzTest(t *testing.T, k *report.Kernel) *report.Test {
	t.Helper()
	var jobs []*report.Test
	for _, tt := range k.Tests {
		if tt.Package == "fuzz" {
			jobs = append(jobs, tt)
		}
	}
	if len(jobs) != 1 || jobs[0].Name != "fuzz" || jobs[0].Status != report.Fail {
		for _, j := range jobs {
			t.Errorf("%s: %s; output:\n%s", j.Name, j.Status, j.Output)
		}
		t.Fatalf("%d tests of the fuzz job, want one failed", len(jobs))
	}
	return jobs[0]
}

// checkSeededFinding checks k found the seeded bug, titled title, at
// mmapdrv_ioctl's line.
func checkSeededFinding(t *testing.T, k *report.Kernel, title string) {
	t.Helper()
	for _, f := range k.Bugs() {
		if !strings.Contains(f.Title, title) {
			continue
		}
		for _, fr := range f.Frames {
			if fr.Func == "mmapdrv_ioctl" && strings.HasSuffix(fr.File, "mmapdrv.c") && fr.Line > 0 {
				return
			}
		}
		t.Errorf("%s: frames %+v, want mmapdrv_ioctl's at its line", f.Title, f.Frames)
		return
	}
	t.Errorf("findings %+v: want %s", k.Bugs(), title)
}

// checkCorpus checks the corpus the job grew is in dir, each input named
// by its sha1, and that the job's output says so instead of holding it.
func checkCorpus(t *testing.T, dir, output string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if sum := sha1.Sum(b); err != nil || e.Name() != hex.EncodeToString(sum[:]) {
			t.Errorf("corpus input %s: sha1 %x, %v", e.Name(), sum, err)
		}
	}
	if len(entries) == 0 || !strings.Contains(output, fmt.Sprintf("the corpus of %d inputs kept in %s", len(entries), dir)) ||
		strings.Contains(output, harness.CorpusLine) {
		t.Errorf("%d inputs in %s; the job's output:\n%s", len(entries), dir, output)
	}
}

// keptCrash is the path of the input k's fuzz job kept, whose sha1 must be
// its name's.
func keptCrash(t *testing.T, k *report.Kernel) string {
	t.Helper()
	for name, p := range k.Files {
		if !strings.HasPrefix(name, harness.CrashPrefix) {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha1.Sum(b); name != "crash-"+hex.EncodeToString(sum[:]) || filepath.Base(p) != name {
			t.Errorf("%s holds %d bytes of sha1 %x", p, len(b), sum)
		}
		return p
	}
	t.Fatalf("no crash-<sha1> among the kernel's files %v", k.Files)
	return ""
}
