package vmtest

import (
	"os"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/report"
)

func TestReportHelperAllowed(t *testing.T) {
	if os.Getenv(helperEnv) != t.Name() {
		t.Skip("the helper of TestAllowedFindingsAreLoggedNotErrors")
	}
	allowed := &report.Allowance{Pattern: "^WARNING in f$", Reason: "bug 1", Expires: "2999-12-31", Source: "kmodvm.toml:5"}
	reportKernel(t, &report.Kernel{Name: "k", Status: report.Pass,
		Tests: []*report.Test{
			{Package: "p", Name: "TestAllowed", Status: report.Pass, Findings: []int{0}},
			{Package: "p", Name: "TestNot", Status: report.Fail, Findings: []int{1}},
		},
		Findings: []report.Finding{
			{Kind: "WARNING", Title: "WARNING in f", Test: "p: TestAllowed", Allowed: allowed},
			{Kind: "WARNING", Title: "WARNING in g", Test: "p: TestNot"},
			{Kind: "WARNING", Title: "WARNING in f", Step: "unload m", Allowed: allowed},
		}}, nil)
}

// Under vmtest.Run an allowed finding is logged with its entry, on its
// test or its kernel, and fails neither; one no entry accepted still
// fails its test.
func TestAllowedFindingsAreLoggedNotErrors(t *testing.T) {
	out := runHelper(t, "TestReportHelperAllowed")
	for _, want := range []string{
		"--- PASS: TestReportHelperAllowed/TestAllowed ",
		"kernel WARNING in f, allowed until 2999-12-31 by kmodvm.toml:5: bug 1",
		"WARNING in f (during unload m), allowed until 2999-12-31 by kmodvm.toml:5: bug 1",
		"--- FAIL: TestReportHelperAllowed/TestNot ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the helper's output:\n%s", want, out)
		}
	}
}
