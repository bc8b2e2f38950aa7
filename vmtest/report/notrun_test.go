package report

import (
	"bytes"
	"strings"
	"testing"
)

// Tests a budget kept from running are grouped by why, and every rendering
// says they did not run and why: JUnit as skipped (not passed), Markdown in
// the kernel's notes.
func TestNotRunTestsAreShownWithTheirReason(t *testing.T) {
	why := "not run: the kernel crashed 2 times (TestA: Oops; TestB: BUG) and the reboot budget is spent"
	k := &Kernel{Name: "6.1.0-57-amd64", Status: Fail, Tests: []*Test{
		{Package: "p", Name: "TestA", Status: Crash},
		{Package: "p", Name: "TestC", Status: NotRun, Output: why},
		{Package: "p", Name: "TestD", Status: NotRun, Output: why},
		{Package: "p", Name: "TestE", Status: NotRun},
	}}
	groups := k.NotRunTests()
	if len(groups) != 2 || groups[0].Why != why || len(groups[0].Tests) != 2 || groups[1].Why != "not run" {
		t.Fatalf("groups %+v", groups)
	}
	r := &Report{Kernels: []*Kernel{k}}
	var j, md bytes.Buffer
	if err := r.WriteJUnit(&j); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(j.String(), `<skipped message="not run">`); n != 3 {
		t.Errorf("%d not-run tests skipped in JUnit, want 3:\n%s", n, j.String())
	}
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "2 test(s) "+why+": TestC, TestD") {
		t.Errorf("Markdown lacks the not-run note:\n%s", md.String())
	}
}
