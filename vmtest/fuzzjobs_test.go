package vmtest_test

import (
	"crypto/sha1"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/harness"
)

// Two fuzz jobs at once on the driver with the seeded bug: the second
// runs in a VM of its own beside the first, both write into the one
// corpus directory, the bug's input is kept once (its title is the
// kernel's, whichever job found it first), and the other findings of it
// are counted; the summary counts both jobs.
func TestFuzzJobsShareTheCorpusAndFindings(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a debug kernel; not in -short mode")
	}
	mod := seedFuzzBug(t)
	a, bin := bundledHarness(t)
	corpus := t.TempDir()
	start := time.Now()
	k := fuzzSeeded(t, mod, &vmtest.Fuzz{Binary: bin, Arch: a.Name, Args: []string{"-seed=1"}, Corpus: corpus,
		Duration: 30 * time.Second, Jobs: 2})
	t.Logf("two jobs of 30 s: %s", time.Since(start).Round(time.Second))
	job := fuzzTest(t, k)
	checkSeededFinding(t, k, "KASAN: slab-out-of-bounds Write in mmapdrv_ioctl")
	var crashes []string
	for name := range k.Files {
		if strings.HasPrefix(name, harness.CrashPrefix) {
			crashes = append(crashes, name)
		}
	}
	if len(crashes) != 1 {
		t.Errorf("kept %v, want the one title's input once", crashes)
	}
	for _, want := range []string{harness.JobLine + "2, beside the first", "(2 jobs at once)", "INFO: Seed: 1\n", "INFO: Seed: 2\n", "again: its input is not kept again"} {
		if !strings.Contains(job.Output, want) {
			t.Errorf("the jobs' output lacks %q:\n%s", want, job.Output)
		}
	}
	entries, err := os.ReadDir(corpus)
	if err != nil || len(entries) == 0 {
		t.Fatalf("corpus %s: %d inputs, %v", corpus, len(entries), err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(corpus, e.Name()))
		if sum := sha1.Sum(b); err != nil || e.Name() != hex.EncodeToString(sum[:]) {
			t.Errorf("corpus input %s: sha1 %x, %v", e.Name(), sum, err)
		}
	}
}
