package report

import (
	"strings"
	"testing"
)

// One failing test among 128: the Markdown's first lines name it, its
// finding and the module's line; the passing tests are folded.
func TestMarkdownLeadsWithWhatFailed(t *testing.T) {
	var b strings.Builder
	if err := oneOf128(t).WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	head := strings.Join(lines[:min(10, len(lines))], "\n")
	for _, want := range []string{
		"❌ **fail**: 0 of 1 kernels passed; tests: 125 passed, 1 failed, 2 skipped",
		"- ❌ **guest: TestWarnDuringPassingTest fail** on 6.1.0-57-amd64\n" +
			"  - 🐞 `WARNING in faultmod_ioctl` (during guest: TestWarnDuringPassingTest) at `../../testdata/faultmod/faultmod.c:168`",
	} {
		if !strings.Contains(head, want) {
			t.Errorf("the first 10 lines lack %q:\n%s", want, head)
		}
	}
	md := b.String()
	if !strings.Contains(md, "<details><summary>✅ 6.1.0-57-amd64: 125 tests passed</summary>") || strings.Contains(md, "| TestSeek |") {
		t.Errorf("the passing tests are not folded:\n%s", md)
	}
}

// GitHub takes at most 1 MiB of a step summary.
func TestMarkdownAtScaleFitsAStepSummary(t *testing.T) {
	r := bigReport(t)
	var b strings.Builder
	if err := r.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d kernels × %d results: %d bytes of Markdown", len(r.Kernels), len(r.Kernels[0].Tests), b.Len())
	if b.Len() >= 1<<20 {
		t.Errorf("%d bytes, want under 1 MiB", b.Len())
	}
	if !strings.Contains(b.String(), "- ❌ **guest: TestWarnDuringPassingTest fail** on 6.1.0-60-amd64, 6.1.0-60-arm64\n") {
		t.Errorf("the failure on two kernels is not one entry naming both")
	}
}

// Thousands of failures: the Markdown lists the first ones and says how
// many more there are, and still fits.
func TestMarkdownAtScaleWithManyFailures(t *testing.T) {
	r := bigReport(t)
	warn := readRun(t, "warn").Kernels[0]
	for _, k := range r.Kernels {
		for i, test := range k.Tests {
			if i%2 == 0 {
				test.Status, test.Output = Fail, warn.Tests[2].Output
			}
		}
	}
	var b strings.Builder
	if err := r.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d failures: %d bytes of Markdown", len(r.Failures()), b.Len())
	if b.Len() >= 1<<20 {
		t.Errorf("%d bytes, want under 1 MiB", b.Len())
	}
	if !strings.Contains(b.String(), "more (the HTML report lists them all)") {
		t.Errorf("the failures are not cut short")
	}
}
