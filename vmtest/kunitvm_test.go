package vmtest_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// On a kernel with KUnit, the bundled driver's KUnit test module (built
// from kmod/kunit) and testdata/kunitfail run their suites at load, and
// every case, parameters included, is a test of the report in every format.
func TestKUnitCasesAreReportedAsTests(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a debug kernel; not in -short mode")
	}
	rep, err := vmtest.RunMatrix(t.Context(), vmtest.Config{
		Kernels:  []string{"6.1-debug"},
		Modules:  []string{filepath.Join("..", "kmod"), filepath.Join("testdata", "kunitfail")},
		Tests:    []string{filepath.Join("..", "guest", "mmapdrv")},
		TestArgs: []string{"-test.run=^TestSizeMatchesModuleParam$"},
		W1:       true,
		OutDir:   t.TempDir(),
		Jobs:     1,
		Log:      testLog{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	k := rep.Kernels[0]
	if k.Build == nil || len(k.Build.Warnings) > 0 {
		t.Errorf("build with W=1: %+v", k.Build)
	}
	for _, c := range []struct{ pkg, name string }{
		{"kernel/kunit/mmapdrv_checks", "mmapdrv_bufsize_bounds_test"},
		{"kernel/kunit/mmapdrv_checks", "mmapdrv_mmap_fits_test"},
		{"kernel/kunit/mmapdrv_checks", "mmapdrv_mmap_fits_no_wrap_test"},
		{"kernel/kunit/mmapdrv_checks", "mmapdrv_write_len_test"},
		{"kernel/kunit/mmapdrv_checks", "mmapdrv_write_len_test/negative_pos"},
		{"kernel/kunit/mmapdrv_checks", "mmapdrv_write_len_test/past_end"},
		{"kernel/kunit/kunitfail", "kunitfail_passes"},
		{"kernel/kunit/kunitfail", "kunitfail_positive/value_1"},
	} {
		if tt := kunitCase(k, c.pkg, c.name); tt == nil || tt.Status != report.Pass {
			t.Errorf("%s %s: %+v, want a passed test", c.pkg, c.name, tt)
		}
	}
	if tt := kunitCase(k, "kernel/kunit/kunitfail", "kunitfail_fails"); tt == nil || tt.Status != report.Fail ||
		!strings.Contains(tt.Output, "EXPECTATION FAILED") || !strings.Contains(tt.Output, "deliberate failure") {
		t.Errorf("kunitfail_fails: %+v, want failed with its diagnostic", tt)
	}
	if tt := kunitCase(k, "kernel/kunit/kunitfail", "kunitfail_skips"); tt == nil || tt.Status != report.Skip ||
		!strings.Contains(tt.Output, "deliberately skipped") {
		t.Errorf("kunitfail_skips: %+v, want skipped with its reason", tt)
	}
	if tt := wantStatus(t, k, "TestSizeMatchesModuleParam", report.Pass); tt.Package == "" {
		t.Errorf("the Go test lost its package")
	}
	if len(k.Bugs()) != 0 {
		t.Errorf("findings (KUnit's taint is none): %+v", k.Bugs())
	}
	for format, write := range map[string]func(*bytes.Buffer) error{
		"json":     func(b *bytes.Buffer) error { return rep.WriteJSON(b) },
		"junit":    func(b *bytes.Buffer) error { return rep.WriteJUnit(b) },
		"markdown": func(b *bytes.Buffer) error { return rep.WriteMarkdown(b) },
		"html":     func(b *bytes.Buffer) error { return rep.WriteHTML(b, report.HTMLOptions{}) },
	} {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		for _, want := range []string{"mmapdrv_write_len_test", "kunitfail_fails"} {
			if !strings.Contains(b.String(), want) {
				t.Errorf("%s report lacks %s", format, want)
			}
		}
	}
}

func kunitCase(k *report.Kernel, pkg, name string) *report.Test {
	for _, tt := range k.Tests {
		if tt.Package == pkg && tt.Name == name {
			return tt
		}
	}
	return nil
}
