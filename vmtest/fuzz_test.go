package vmtest_test

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/harness"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// seedFuzz copies kmod/ and applies testdata/fuzzbug's sed script,
// which must leave marker in the driver.
func seedFuzz(t *testing.T, script, marker string) string {
	t.Helper()
	dir, _, after := seedKmod(t, "fuzzbug", "fuzzbug/"+script)
	if !strings.Contains(after, marker) {
		t.Fatalf("%s no longer seeds kmod/mmapdrv.c's ioctl: update testdata/fuzzbug", script)
	}
	return dir
}

// seedFuzzBug copies kmod/ and adds testdata/fuzzbug's ioctl command that
// writes past a 16-byte allocation.
func seedFuzzBug(t *testing.T) string {
	return seedFuzz(t, "ioctl-oob.sed", "_IO(MMAPDRV_IOC_MAGIC, 0x2a)")
}

// bundledHarness builds kmod/'s harness for the default architecture.
func bundledHarness(t *testing.T) (*arch.Arch, string) {
	t.Helper()
	a, err := arch.Lookup(arch.Default)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "harness")
	if err := harness.Build(t.Context(), harness.Options{Source: filepath.Join("..", "kmod", "fuzz", "mmapdrv_fuzz.c"), Out: bin, Arch: a}); err != nil {
		t.Fatal(err)
	}
	return a, bin
}

// A short fuzz job of the bundled harness on the driver with the seeded
// shallow bug finds it: the job's test fails with KASAN's report, placed
// at the driver's line, and the input that ran before the report,
// minimized in a fresh VM, is kept as crash-<sha1>. Fuzzing goes on in
// fresh VMs for the time left, finding the bug again, which is counted.
// The input with more operations appended, replayed and minimized,
// shrinks; replayed (Fuzz.Replay), the input kept alone brings the same
// finding.
func TestFuzzFindsTheSeededIoctlBug(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a debug kernel; not in -short mode")
	}
	mod := seedFuzzBug(t)
	a, bin := bundledHarness(t)
	const title = "KASAN: slab-out-of-bounds Write in mmapdrv_ioctl"
	corpus := t.TempDir()
	start := time.Now()
	k := fuzzSeeded(t, mod, &vmtest.Fuzz{Binary: bin, Arch: a.Name, Args: []string{"-seed=1"}, Corpus: corpus,
		Duration: 45 * time.Second, Minimize: 60 * time.Second})
	t.Logf("the fuzz job, its minimizer and the VMs after: %s", time.Since(start).Round(time.Second))
	job := fuzzTest(t, k)
	checkCorpus(t, corpus, job.Output)
	if !strings.Contains(job.Output, "kmodvm-kcov: inputs:") {
		t.Errorf("the fuzz job's output lacks the glue's counts:\n%s", job.Output)
	}
	checkSeededFinding(t, k, title)
	crash := keptCrash(t, k)
	checkMinimized(t, job.Output, crash)
	checkWentOn(t, job.Output)
	crash = checkShrinks(t, mod, &vmtest.Fuzz{Binary: bin, Arch: a.Name, Minimize: 60 * time.Second}, crash, title)
	replayed := fuzzSeeded(t, mod, &vmtest.Fuzz{Binary: bin, Arch: a.Name, Replay: crash})
	fuzzTest(t, replayed)
	checkSeededFinding(t, replayed, title)
	checkReproReplays(t, replayed, crash)
}

// checkShrinks replays the input crash with operations after the seeded
// bug's appended (the bundled harness reads an input as a program of
// them), minimized (f.Minimize), and checks the input kept is smaller and
// brought the same finding. It returns the input kept.
func checkShrinks(t *testing.T, mod string, f *vmtest.Fuzz, crash, title string) string {
	t.Helper()
	b, err := os.ReadFile(crash)
	if err != nil {
		t.Fatal(err)
	}
	padded := filepath.Join(t.TempDir(), "padded")
	// Reads (opcode 0 modulo 7, then a 16-bit count), after a zero that
	// the last operation may take as its missing operand, as it was.
	if err := os.WriteFile(padded, append(b, 0x00, 0x00, 0x04, 0x00, 0x07, 0x02, 0x00, 0x0e), 0o644); err != nil {
		t.Fatal(err)
	}
	f.Replay = padded
	start := time.Now()
	k := fuzzSeeded(t, mod, f)
	t.Logf("the padded input's replay and its minimizer: %s", time.Since(start).Round(time.Second))
	job := fuzzTest(t, k)
	checkSeededFinding(t, k, title)
	kept := keptCrash(t, k)
	min, err := os.ReadFile(kept)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("minimized: %d bytes, from %d", len(min), len(b)+8)
	if len(min) >= len(b)+8 || !strings.Contains(job.Output, fmt.Sprintf("(%d bytes, minimized from %d; the original: ", len(min), len(b)+8)) {
		t.Errorf("%s: %d bytes, not fewer than the %d replayed; output:\n%s", kept, len(min), len(b)+8, job.Output)
	}
	return kept
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

// checkMinimized checks the input kept, crash, is named in the job's
// output and no larger than the one the job ran before the report; when
// smaller, the original is kept beside it.
func checkMinimized(t *testing.T, output, crash string) {
	t.Helper()
	c, ok, err := harness.ParseCrash(output)
	if !ok || err != nil {
		t.Fatalf("no kernel report and input in the job's output (%v):\n%s", err, output)
	}
	kept, err := os.ReadFile(crash)
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for l := range strings.Lines(output) {
		if strings.HasPrefix(l, harness.KeptLine+crash+" ") {
			line = strings.TrimSpace(l)
		}
	}
	t.Logf("%s (the job ran %d bytes before the report)", line, len(c.Input))
	switch {
	case line == "":
		t.Errorf("the job's output does not name %s on a line of its own:\n%s", crash, output)
	case len(kept) > len(c.Input):
		t.Errorf("%s: %d bytes, more than the %d the job ran", crash, len(kept), len(c.Input))
	case len(kept) < len(c.Input) && !strings.Contains(line, fmt.Sprintf("(%d bytes, minimized from %d; the original: ", len(kept), len(c.Input))):
		t.Errorf("%s is smaller than the original, and the line does not say so: %s", crash, line)
	case len(kept) == len(c.Input) && !strings.Contains(line, "-minimize_crash"):
		t.Errorf("%s was not minimized, and the line does not say what the minimizer did: %s", crash, line)
	}
}

// checkWentOn checks the job went on in a fresh VM after its first
// finding (the seeded bug is found in seconds, well within the job's
// duration), finding it again, counted.
func checkWentOn(t *testing.T, output string) {
	t.Helper()
	var vms, findings int
	for l := range strings.Lines(output) {
		if sum, ok := strings.CutPrefix(l, harness.SummaryLine); ok {
			t.Logf("fuzzed in %s", strings.TrimSpace(sum))
			fmt.Sscanf(sum, "%d VMs", &vms)
			if _, f, ok := strings.Cut(sum, "; "); ok {
				fmt.Sscanf(f, "%d kernel findings", &findings)
			}
		}
	}
	if vms < 2 || findings < 2 || !strings.Contains(output, "=== kmodvm: fuzzing goes on in a fresh VM (VM 2)") ||
		!strings.Contains(output, "again: its input is not kept again") {
		t.Errorf("%d VMs, %d findings: want the job to go on after its finding and find it again; output:\n%s", vms, findings, output)
	}
}
