package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/report"
)

// A finding in the module's code shows the module's source line under it.
func TestSummaryShowsAFindingsSourceLine(t *testing.T) {
	pc := report.Frame{Func: "mmapdrv_write", Offset: 0x5a, Size: 0x120, Module: "mmapdrv", File: "kmod/mmapdrv.c", Line: 117}
	rep := &report.Report{Kernels: []*report.Kernel{{Name: "6.1.0-57-amd64", Status: report.Fail,
		Findings: []report.Finding{{Kind: "usercopy", Title: "usercopy: kernel memory overwrite attempt in mmapdrv_write", Test: "TestWrite", PC: &pc}}}}}
	var b bytes.Buffer
	printSummary(&b, rep, false)
	if want := "      at kmod/mmapdrv.c:117, mmapdrv_write+0x5a/0x120 [mmapdrv]\n"; !strings.Contains(b.String(), want) {
		t.Errorf("summary:\n%s\nwant a line %q", b.String(), want)
	}
}

// With coverage the summary lists each source file's lines run under its
// kernel, after the total, named from the module directory's parent.
func TestSummaryShowsCoveragePerFile(t *testing.T) {
	rep, err := report.ReadFile("../../vmtest/report/testdata/coverage/report.json")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	printSummary(&b, rep, false)
	for _, want := range []string{
		"    coverage: 133/137 (97.1%) lines, 50/58 branches\n",
		"      kmod/mmapdrv.c              99/103 (96.1%)\n",
		"      kmod/kunit/mmapdrv_kunit.c  27/27 (100.0%)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary:\n%s\nwant a line %q", b.String(), want)
		}
	}
}

// An allowed finding is no failure: the summary lists it under its kernel
// with the entry that allowed it and why, and not under What failed.
func TestSummaryShowsAllowedFindings(t *testing.T) {
	allow := &report.Allowance{Pattern: "^WARNING in f$", Reason: "known upstream bug 1234", Expires: "2999-12-31", Source: "kmodvm.toml:7"}
	rep := &report.Report{Kernels: []*report.Kernel{{Name: "6.1.0-57-amd64", Status: report.Pass,
		Tests:    []*report.Test{{Package: "p", Name: "TestWarn", Status: report.Pass, Findings: []int{0}}},
		Findings: []report.Finding{{Kind: "WARNING", Title: "WARNING in f", Test: "p: TestWarn", Allowed: allow}}}}}
	var b bytes.Buffer
	printSummary(&b, rep, false)
	want := "    🐞 WARNING in f (during p: TestWarn), allowed until 2999-12-31 by kmodvm.toml:7: known upstream bug 1234\n"
	if !strings.Contains(b.String(), want) || strings.Contains(b.String(), "What failed") {
		t.Errorf("summary:\n%s\nwant a line %q and no failure", b.String(), want)
	}
}
