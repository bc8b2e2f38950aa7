package vmtest_test

import (
	"testing"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// sanmodTests are testdata/sanmod's tests, one deliberate bug each.
var sanmodTests = []string{
	"TestHeapOutOfBounds", "TestUseAfterFree", "TestVmallocOutOfBounds", "TestLeakAtUnload",
	"TestLockInversion", "TestSleepInAtomic", "TestDataRace", "TestArrayIndexOutOfBounds",
}

// A stock kernel sees one of sanmod's eight bugs: sleeping under a
// spinlock, as "scheduling while atomic". The others pass silently, which
// is why debug kernels exist (testdata/sanmod/README.md has the table).
func TestSanmodOnStockKernel(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("boots kernels")
	}
	rep, err := vmtest.RunMatrix(t.Context(), vmtest.Config{
		Kernels: []string{"6.1"},
		Modules: []string{"../testdata/sanmod"},
		Tests:   []string{"../testdata/sanmod/test"},
		OutDir:  t.TempDir(),
		Jobs:    1,
	})
	if err != nil {
		t.Fatal(err)
	}
	k := rep.Kernels[0]
	for _, name := range sanmodTests {
		want := report.Pass
		if name == "TestSleepInAtomic" {
			want = report.Fail
		}
		wantStatus(t, k, name, want)
	}
	wantFinding(t, k, test(t, k, "TestSleepInAtomic"), "sleep in atomic context", "BUG: scheduling while atomic in sanmod_ioctl")
	for _, f := range k.Findings {
		if f.Kind == report.KindTaint && f.Step != "load sanmod" {
			t.Errorf("taint note %q %s, want during load sanmod", f.Title, f.Where())
		}
	}
	if len(k.Modules) != 1 || k.Modules[0].Unload != report.Pass {
		t.Errorf("modules: %+v", k.Modules)
	}
}
