package vmtest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/harness"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// seedFuzzPanic copies kmod/ and adds testdata/fuzzbug's ioctl command
// that panics the kernel.
func seedFuzzPanic(t *testing.T) string {
	return seedFuzz(t, "ioctl-panic.sed", "seeded panic")
}

// A fuzz job on the driver whose seeded command panics the kernel: the
// glue prints no input (the guest resets first), and the host finds it
// among the last inputs the glue's ring in shared memory kept, each
// replayed alone in a fresh VM; the input kept, replayed, panics the
// kernel again.
func TestFuzzPanicInputFromRing(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a debug kernel; not in -short mode")
	}
	mod := seedFuzzPanic(t)
	a, bin := bundledHarness(t)
	const title = "Kernel panic - not syncing: kmodvm-fuzzbug: seeded panic"
	start := time.Now()
	k := fuzzSeeded(t, mod, &vmtest.Fuzz{Binary: bin, Arch: a.Name, Args: []string{"-seed=1"}, Duration: 30 * time.Second})
	t.Logf("the fuzz job and its replays: %s", time.Since(start).Round(time.Second))
	var job *report.Test
	for _, tt := range k.Tests {
		if tt.Package == "fuzz" && tt.Name == "fuzz" {
			job = tt
		}
	}
	if job == nil || job.Status != report.Crash {
		t.Fatalf("the fuzz job is %v, want one that the panic crashed", job)
	}
	if strings.Contains(job.Output, harness.InputLine) {
		t.Fatalf("the glue printed an input before the panic:\n%s", job.Output)
	}
	for _, want := range []string{harness.RingLine, "brings the report back alone"} {
		if !strings.Contains(job.Output, want) {
			t.Errorf("the job's output lacks %q:\n%s", want, job.Output)
		}
	}
	crash := ""
	for name, p := range k.Files {
		if strings.HasPrefix(name, harness.CrashPrefix) && !strings.HasPrefix(name, harness.SeqPrefix) {
			crash = p
		}
	}
	if crash == "" {
		t.Fatalf("no crash-<sha1> among the kernel's files %v", k.Files)
	}
	replayed := fuzzSeeded(t, mod, &vmtest.Fuzz{Binary: bin, Arch: a.Name, Replay: crash})
	found := false
	for _, f := range replayed.Findings {
		found = found || f.Title == title
	}
	if !found {
		t.Errorf("the kept input %s, replayed, brought no %q: %v", crash, title, replayed.Findings)
	}
}
