package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/coverage"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// TestTakeCorpusCoverage: a kernel that fuzzed takes its replay's
// coverage and lcov file, or a note saying why there is none; one that
// did not fuzz takes nothing.
func TestTakeCorpusCoverage(t *testing.T) {
	fuzzed := func(sel string) *report.Kernel {
		return &report.Kernel{Selector: sel, Name: sel + ".0", Files: map[string]string{},
			Tests: []*report.Test{{Package: runcfg.FuzzName, Name: runcfg.FuzzName, Status: report.Pass}}}
	}
	files := []coverage.File{{Path: "mmapdrv.c", Lines: []coverage.Line{{Number: 10, Count: 3}, {Number: 11}}}}
	rep := &report.Report{Kernels: []*report.Kernel{fuzzed("6.1-debug"), fuzzed("6.12-debug"), fuzzed("7.3-debug"),
		{Selector: "6.1", Name: "6.1.0", Files: map[string]string{}}}}
	cov := &report.Report{Kernels: []*report.Kernel{
		{Selector: "6.1-debug", Coverage: files, Files: map[string]string{runcfg.CoverageFile: "/o/corpus-coverage/6.1/coverage.info"}},
		{Selector: "6.12-debug", Status: report.Error, Error: "boot: no"},
	}}
	takeCorpusCoverage(rep, cov)
	k := rep.Kernels
	if len(k[0].Coverage) != 1 || k[0].Files[runcfg.CoverageFile] == "" || k[0].Note != "" {
		t.Errorf("6.1-debug: %+v", k[0])
	}
	if k[1].Coverage != nil || !strings.Contains(k[1].Note, "none came (boot: no)") {
		t.Errorf("6.12-debug: note %q", k[1].Note)
	}
	if !strings.Contains(k[2].Note, "did not run") || k[3].Note != "" {
		t.Errorf("7.3-debug: note %q; 6.1: note %q", k[2].Note, k[3].Note)
	}
	var buf bytes.Buffer
	printCorpusCoverage(&buf, k[0])
	if want := "the corpus replayed reached 1/2 (50.0%) lines"; !strings.Contains(buf.String(), want) {
		t.Errorf("printed %q, want %q", buf.String(), want)
	}
}
