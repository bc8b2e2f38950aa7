package run

import (
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// Reboots stop at the count or once the time since the first crash is
// spent, whichever comes first; a started reboot is never cut.
func TestRebootBudget(t *testing.T) {
	for _, c := range []struct {
		name  string
		max   int
		limit time.Duration
		at    []int // seconds after the first crash of each reboot asked for
		want  int   // reboots granted
		why   string
	}{
		{"the count first", 3, 100 * time.Second, []int{0, 1, 2, 3, 4}, 3, "at most 3 reboots"},
		{"the time first, with room for a VM", 10, 100 * time.Second, []int{0, 30, 60, 90, 91}, 4, "no VM after 1m40s"},
		{"no time limit", 4, 0, []int{0, 1000, 2000, 3000, 4000}, 4, "at most 4 reboots"},
		{"none", 0, 100 * time.Second, []int{0}, 0, "at most 0 reboots"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t0 := time.Unix(1000, 0)
			b := rebootBudget{max: c.max, limit: c.limit}
			if b.note(t0) != "" {
				t.Error("a note before any crash")
			}
			b.begin(t0)
			got, why := 0, ""
			for _, s := range c.at {
				if why = b.take(t0.Add(time.Duration(s) * time.Second)); why != "" {
					break
				}
				got++
			}
			if got != c.want || !strings.Contains(why, c.why) {
				t.Errorf("%d reboots, then %q; want %d, then %q", got, why, c.want, c.why)
			}
			if note := b.note(t0.Add(150 * time.Second)); !strings.Contains(note, "150s") || !strings.Contains(note, "reboot(s)") {
				t.Errorf("note %q", note)
			}
		})
	}
}

// A reboot's VM is ended when the budget's time is over, and says so; with
// no time limit it is not.
func TestRebootBudgetBoundsTheVM(t *testing.T) {
	b := rebootBudget{max: 1, limit: 300 * time.Millisecond}
	b.begin(time.Now())
	ctx, cut, stop := b.bound(t.Context())
	defer stop()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the VM's context outlived the budget")
	}
	if !cut() {
		t.Error("cut() is false after the budget ended the VM")
	}
	b = rebootBudget{max: 1}
	b.begin(time.Now())
	ctx, cut, stop = b.bound(t.Context())
	time.Sleep(100 * time.Millisecond)
	if ctx.Err() != nil || cut() {
		t.Error("a budget without a time limit ended the VM")
	}
	stop()
	if cut() {
		t.Error("releasing the context counts as the budget's cut")
	}
}

// A VM that ended early is named by the test it blamed and that test's
// finding, else by its first bug or its boot's error.
func TestCrashOfNamesTheCulpritAndItsFinding(t *testing.T) {
	oops := report.Finding{Kind: "Oops", Title: "BUG: kernel NULL pointer dereference in mmapdrv_fault", Test: "p: TestB"}
	for _, c := range []struct {
		name string
		vm   *report.Kernel
		want string
	}{
		{"a crashed test with its finding", &report.Kernel{Findings: []report.Finding{oops}, Tests: []*report.Test{
			{Name: "TestA", Status: report.Pass}, {Name: "TestB", Status: report.Crash, Findings: []int{0}}}},
			"TestB: BUG: kernel NULL pointer dereference in mmapdrv_fault"},
		{"a test the agent's fault grace ended", &report.Kernel{Tests: []*report.Test{
			{Name: "TestS", Status: report.Fail, Output: "\n--- kmodvm: no progress after the kernel reported \"Oops\""}}},
			"TestS: fail"},
		{"a failing test is no culprit", &report.Kernel{Findings: []report.Finding{oops}, Tests: []*report.Test{
			{Name: "TestF", Status: report.Fail}}}, "between tests: BUG: kernel NULL pointer dereference in mmapdrv_fault"},
		{"nothing but the boot", &report.Kernel{Boot: &report.Boot{Error: "kernel panic: Fatal exception\nmore"}}, "kernel panic: Fatal exception"},
	} {
		if got := crashOf(c.vm); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// The tests left without a result are listed as not run, each saying the
// crashes and why no VM ran them; tests the binary's flags deselect are not.
func TestNotRunListsEveryTestLeft(t *testing.T) {
	kr := &report.Kernel{Tests: []*report.Test{
		{Package: "a", Name: "TestA1", Status: report.Pass}, {Package: "a", Name: "TestA2", Status: report.Crash},
		{Package: "a", Name: "TestA2/sub", Status: report.Crash}}}
	bins := []event.TestBinary{{Name: "a", Args: []string{"-test.skip=TestA4"}}, {Name: "b"}, {Name: "c"}}
	known := map[string][]string{"a": {"TestA1", "TestA2", "TestA3", "TestA4"}, "b": {"TestB1"}}
	n := notRun(kr, bins, known, []string{"TestA2: Oops", "TestX: BUG"}, "the reboot budget is spent")
	var got []string
	for _, tt := range kr.Tests[3:] {
		got = append(got, tt.Package+"."+tt.Name)
		if tt.Status != report.NotRun || tt.Output != "not run: the kernel crashed 2 times (TestA2: Oops; TestX: BUG) and the reboot budget is spent" {
			t.Errorf("%s: %s %q", tt.Name, tt.Status, tt.Output)
		}
	}
	if n != 3 || strings.Join(got, " ") != "a.TestA3 b.TestB1 c.c" {
		t.Errorf("%d not run: %q, want a.TestA3 b.TestB1 c.c", n, got)
	}
}

// A test no crash kept from running (its binary ended by itself) says
// only why.
func TestNotRunWithNoCrash(t *testing.T) {
	kr := &report.Kernel{Tests: []*report.Test{{Package: "a", Name: "TestA1", Status: report.Fail}}}
	notRun(kr, []event.TestBinary{{Name: "a"}}, map[string][]string{"a": {"TestA1", "TestA2"}}, nil, binaryEnded)
	if len(kr.Tests) != 2 || kr.Tests[1].Name != "TestA2" || kr.Tests[1].Output != "not run: "+binaryEnded {
		t.Errorf("got %d tests, the last %+v", len(kr.Tests), kr.Tests[len(kr.Tests)-1])
	}
}

// A test the budget's end cut short says so, naming the crashes, before
// what it printed; tests of the first VM and those with a reason keep
// their output.
func TestCutShortNamesTheCrashes(t *testing.T) {
	kr := &report.Kernel{Tests: []*report.Test{
		{Name: "TestA", Status: report.NotRun, Output: "the first VM's"},
		{Name: "TestB", Status: report.NotRun, AfterReboot: true, Output: "=== RUN   TestB\n--- kmodvm: the VM ended while this test ran (not-run)"},
		{Name: "TestC", Status: report.NotRun, AfterReboot: true, Output: "not run: already said"},
	}}
	cutShort(kr, []string{"TestX: Oops"})
	want := []string{"the first VM's",
		"not run: the kernel crashed (TestX: Oops) and the reboot budget's time was over while it ran\n=== RUN   TestB\n--- kmodvm: the VM ended while this test ran (not-run)",
		"not run: already said"}
	for i, tt := range kr.Tests {
		if tt.Output != want[i] {
			t.Errorf("%s: %q, want %q", tt.Name, tt.Output, want[i])
		}
	}
}
