package vmtest_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// seeded are testdata/sanmod's bugs: the test that commits each, the
// title prefix of the report a debug kernel gives it, and the variant
// whose sanitizer catches it.
var seeded = []struct {
	test, title string
	variants    []string
}{
	{"TestHeapOutOfBounds", "KASAN: slab-out-of-bounds Write in ", []string{"debug"}},
	{"TestUseAfterFree", "KASAN: use-after-free Read in ", []string{"debug"}},
	{"TestVmallocOutOfBounds", "KASAN: vmalloc-out-of-bounds Write in ", []string{"debug"}},
	{"TestLeakAtUnload", "memory leak in ", []string{"debug", "kcsan"}},
	{"TestLockInversion", "possible deadlock in ", []string{"debug", "kcsan"}},
	{"TestSleepInAtomic", "BUG: scheduling while atomic in ", []string{"debug", "kcsan"}},
	{"TestDataRace", "KCSAN: data-race in ", []string{"kcsan"}},
	{"TestArrayIndexOutOfBounds", "UBSAN: array-index-out-of-bounds in ", []string{"debug", "kcsan"}},
}

// TestSanitizersNameAndAttributeSeededBugs runs sanmod's one-bug-per-test
// suite on the debug kernels: every bug the kernel's variant can see must
// fail its own test with a finding of the right title, and nothing else
// may be blamed on another test.
func TestSanitizersNameAndAttributeSeededBugs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and boots debug kernels; not in -short mode")
	}
	// RunMatrix, not Run: the seeded bugs fail their guest tests on
	// purpose, and this test checks the report instead.
	rep, err := vmtest.RunMatrix(t.Context(), vmtest.Config{
		Kernels: kerneltest.DebugMatrix(),
		Modules: []string{filepath.Join("..", "testdata", "sanmod")},
		Tests:   []string{filepath.Join("..", "testdata", "sanmod", "test")},
		OutDir:  t.TempDir(),
		CPUs:    2,
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
		for _, s := range seeded {
			catches := false
			for _, v := range s.variants {
				catches = catches || v == k.Variant
			}
			var titles []string
			for _, f := range k.Findings {
				// kmemleak sees the leak only after the unload; its
				// allocation's time, good to a kernel tick, names the test
				// that allocated it when it lies well inside it, else the
				// unload.
				leak := s.test == "TestLeakAtUnload" && f.Step == "unload sanmod"
				if strings.HasSuffix(f.Test, ": "+s.test) || leak {
					titles = append(titles, f.Title)
				}
			}
			found := false
			for _, title := range titles {
				found = found || strings.HasPrefix(title, s.title)
			}
			switch {
			case catches && !found:
				t.Errorf("%s: %s: want a finding %q..., got %q", k.Name, s.test, s.title, titles)
			case !catches && len(titles) > 0:
				t.Errorf("%s: %s: %s cannot see this bug, yet %q were blamed on it", k.Name, s.test, k.Variant, titles)
			}
		}
		for _, f := range k.Findings {
			if f.Blames() && !(f.Kind == "memory leak" && f.Step == "unload sanmod") {
				t.Errorf("%s: a finding outside any test: %s (%s)", k.Name, f.Title, f.Where())
			}
		}
	}
}
