package vmtest_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/coverage"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// On a kernel with gcov, --coverage counts the bundled driver's lines as
// its tests ran them: the mmap fault handler that TestMapWriteShowsInRead
// drives, the init the load ran, the exit the unload ran (read after
// unload), and not the init's unwinding after a failed misc_register(),
// which only fault injection reaches.
func TestCoverageCountsTheLinesTheTestsRan(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a debug kernel; not in -short mode")
	}
	src, err := filepath.Abs(filepath.Join("..", "kmod", "mmapdrv.c"))
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	rep, err := vmtest.RunMatrix(t.Context(), vmtest.Config{
		Kernels:  kerneltest.DebugMatrix()[:1],
		Modules:  []string{filepath.Join("..", "kmod")},
		Tests:    []string{filepath.Join("..", "guest", "mmapdrv")},
		TestArgs: []string{"-test.run=^(TestMapWriteShowsInRead|TestSizeMatchesModuleParam)$"},
		Coverage: true,
		OutDir:   out,
		Jobs:     1,
		Log:      testLog{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	k := rep.Kernels[0]
	if k.Status != report.Pass {
		t.Fatalf("kernel %s: %s: %s (note: %s)", k.Name, k.Status, k.Error, k.Note)
	}
	for _, p := range []string{k.Files["coverage.info"], filepath.Join(out, "coverage.info")} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("tracefile: %v", err)
		}
		files, err := coverage.ParseLCOV(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		var drv *coverage.File
		for i := range files {
			if files[i].Path == src {
				drv = &files[i]
			}
		}
		if drv == nil {
			t.Fatalf("%s has no record of %s: %q", p, src, b)
		}
		for _, c := range []struct {
			code string
			ran  bool
		}{
			{"atomic64_inc(&drv->faults);", true},                        // the fault handler
			{"drv->npages = PAGE_ALIGN(drv->size) >> PAGE_SHIFT;", true}, // init
			{"misc_deregister(&drv->misc);", true},                       // exit, after the tests
			{`pr_err("cannot register /dev/%s`, false},                   // init's unwinding
		} {
			n := lineOf(t, string(text), c.code)
			count, ok := lineCount(*drv, n)
			if !ok || (count > 0) != c.ran {
				t.Errorf("%s:%d %s: count %d (instrumented: %v), want run: %v", src, n, c.code, count, ok, c.ran)
			}
		}
		if s := drv.Summary(); s.LinesHit == 0 || s.LinesHit == s.Lines {
			t.Errorf("summary %+v: two tests cannot run every line, nor none", s)
		}
	}
	if len(k.Coverage) == 0 {
		t.Errorf("the report has no coverage")
	}
	var md, page bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil || !strings.Contains(md.String(), "`kmod/mmapdrv.c`") {
		t.Errorf("markdown (%v) lacks the coverage of kmod/mmapdrv.c:\n%s", err, md.String())
	}
	if err := rep.WriteHTML(&page, report.HTMLOptions{}); err != nil || !strings.Contains(page.String(), `class="cov-missed"`) || !strings.Contains(page.String(), `class="cov-hit"`) {
		t.Errorf("HTML (%v) lacks the marked source", err)
	}
}

// lineOf returns the number of the line of text holding code.
func lineOf(t *testing.T, text, code string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, code) {
			return i + 1
		}
	}
	t.Fatalf("no line holds %q", code)
	return 0
}

func lineCount(f coverage.File, n int) (int64, bool) {
	for _, l := range f.Lines {
		if l.Number == n {
			return l.Count, true
		}
	}
	return 0, false
}
