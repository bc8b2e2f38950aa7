package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/report"
)

func TestMatrixShowsStepsAndTestsThatDidNotPass(t *testing.T) {
	rep := &report.Report{Kernels: []*report.Kernel{
		{Name: "6.1.0-57-amd64", Status: report.Fail, Build: &report.Build{Status: report.Pass}, Boot: &report.Boot{Status: report.Pass},
			Modules:  []report.Module{{Name: "m", Load: report.Pass, Unload: report.Pass}},
			Tests:    []*report.Test{{Name: "TestA", Status: report.Pass}, {Name: "TestB", Status: report.Fail}},
			Findings: []report.Finding{{Kind: "WARNING"}, {Kind: report.KindTaint}}},
		{Name: "7.3.4+deb13-amd64", Status: report.Pass, Build: &report.Build{Status: report.Pass, Warnings: []report.Diagnostic{{}}},
			Boot:    &report.Boot{Status: report.Pass},
			Modules: []report.Module{{Name: "dep", Dep: true, Load: report.Pass}, {Name: "m", Load: report.Pass, Unload: report.Fail}},
			Tests:   []*report.Test{{Name: "TestA", Status: report.Pass}, {Name: "TestB", Status: report.Pass}}},
	}}
	var b bytes.Buffer
	printMatrix(&b, rep)
	got := b.String()
	for _, want := range []string{
		"6.1.0-57-amd64  7.3.4+deb13-amd64",
		"build     pass            pass (1 warnings)",
		"load      pass            fail",
		"tests     1/2             2/2",
		"findings  1               0",
		"TestB     fail            pass",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("matrix lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "TestA") {
		t.Errorf("a test that passed everywhere is listed:\n%s", got)
	}
}
