package run

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/collect"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// events builds a guest's event stream: binary b's tests as "run:Name",
// "pass:Name", "fail:Name", its end as "end:code", "end:timeout",
// "end:stalled", and "done" for the agent's last event.
func events(b string, steps ...string) []event.Event {
	var evs []event.Event
	mono := int64(1)
	for _, s := range append([]string{"start:"}, steps...) {
		mono++
		op, arg, _ := strings.Cut(s, ":")
		ev := event.Event{Binary: b, Mono: mono}
		switch op {
		case "start":
			ev.Type = event.BinaryStart
		case "run", "pass", "fail":
			ev.Type, ev.Test = event.Test, &event.TestEvent{Action: op, Test: arg}
		case "end":
			ev.Type, ev.Exit = event.BinaryEnd, &event.Exit{Code: 0}
			switch arg {
			case "timeout":
				ev.Exit.TimedOut, ev.Exit.Code = true, -1
			case "stalled":
				ev.Exit.Stalled, ev.Exit.Code = true, -1
			case "goexit":
				ev.Exit.Code = 2
			}
		case "done":
			ev = event.Event{Type: event.Done, Mono: mono}
		}
		evs = append(evs, ev)
	}
	return evs
}

// After a VM ends, the binaries left unfinished by a kernel crash, a hang
// or a stall run again, skipping every test that has a result, the one
// blamed for the VM's end included: the open test, or, when the kernel
// died before the agent read a test's start, the binary's next test in
// the order go test runs them. Binaries that ended normally, or whose end
// has no test to blame, do not.
func TestLeftoverAfterACrashSkipsTheTestsDone(t *testing.T) {
	bins := []event.TestBinary{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	known := func(bin string) ([]string, bool) {
		return map[string][]string{"a": {"T1", "T2", "T3"}, "b": {"U"}}[bin], bin != "c"
	}
	for _, c := range []struct {
		name   string
		evs    [][]event.Event
		want   []string
		skipOf map[string][]string
	}{
		{"panic in a's 2nd test", [][]event.Event{events("a", "run:T1", "pass:T1", "run:T2", "run:T2/sub")},
			[]string{"a", "b", "c"}, map[string][]string{"a": {"T1", "T2"}}},
		{"a timed out, the VM went on", [][]event.Event{events("a", "run:T1", "end:timeout"), events("b", "run:U", "pass:U", "end:0", "done")},
			[]string{"a"}, map[string][]string{"a": {"T1"}}},
		{"a stalled after a fault", [][]event.Event{events("a", "run:T1", "pass:T1", "run:T2", "end:stalled"), events("b", "end:0"), events("c", "end:0", "done")},
			[]string{"a"}, map[string][]string{"a": {"T1", "T2"}}},
		{"a Go panic ends a binary normally", [][]event.Event{events("a", "run:T1", "end:goexit"), events("b", "end:0"), events("c", "end:0", "done")},
			nil, map[string][]string{}},
		{"a crash after T1 passed, before T2's start was read", [][]event.Event{events("a", "run:T1", "pass:T1")},
			[]string{"a", "b", "c"}, map[string][]string{"a": {"T1", "T2"}}},
		{"a crash before any test's start was read", [][]event.Event{events("a")},
			[]string{"a", "b", "c"}, map[string][]string{"a": {"T1"}}},
		{"a crash after a's last test", [][]event.Event{events("a", "run:T1", "pass:T1", "run:T2", "pass:T2", "run:T3", "pass:T3")},
			[]string{"b", "c"}, map[string][]string{"a": {"T1", "T2", "T3"}}},
		{"a crash with no test to blame: c's order unknown", [][]event.Event{events("a", "end:0"), events("b", "end:0"), events("c", "run:V", "pass:V")},
			nil, map[string][]string{"c": {"V"}}},
		{"a clean run", [][]event.Event{events("a", "run:T1", "pass:T1", "end:0"), events("b", "end:0"), events("c", "end:0", "done")},
			nil, map[string][]string{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			col := collect.New(collect.Options{Order: known})
			for _, evs := range c.evs {
				for _, ev := range evs {
					col.Handle(ev)
				}
			}
			col.Finish(&report.Kernel{}, collect.End{Status: report.Crash})
			done := map[string][]string{}
			var got []string
			for _, tb := range leftover(bins, col, done) {
				got = append(got, tb.Name)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("left over %q, want %q", got, c.want)
			}
			for b, want := range c.skipOf {
				slices.Sort(done[b])
				if !slices.Equal(done[b], want) {
					t.Errorf("done in %s: %q, want %q", b, done[b], want)
				}
				if args := withSkip(nil, done[b]); !slices.Equal(args, []string{"-test.skip=^(" + strings.Join(want, "|") + ")$"}) {
					t.Errorf("%s runs again with %q, want it to skip %q", b, args, want)
				}
			}
		})
	}
}

func TestWithSkipJoinsTheUsersSkip(t *testing.T) {
	for _, c := range []struct {
		args, names, want []string
	}{
		{[]string{"-test.run=X"}, []string{"TestB", "TestA"}, []string{"-test.run=X", "-test.skip=^(TestA|TestB)$"}},
		{[]string{"-test.skip=Slow"}, []string{"TestA"}, []string{"-test.skip=(Slow)|^(TestA)$"}},
		{[]string{"-test.skip", "Slow"}, []string{"TestA"}, []string{"-test.skip=(Slow)|^(TestA)$"}},
		{[]string{"-test.skip=TestX/sub"}, []string{"TestA"}, []string{"-test.skip=^(TestA)$"}},
		{[]string{"-v"}, nil, []string{"-v"}},
	} {
		if got := withSkip(c.args, c.names); !slices.Equal(got, c.want) {
			t.Errorf("withSkip(%q, %q) = %q, want %q", c.args, c.names, got, c.want)
		}
	}
}

// A reboot's tests join the kernel's marked, with their findings renumbered;
// the kernel's own boot findings, repeated by every boot, do not.
func TestMergeRebootMarksTestsAndRenumbersFindings(t *testing.T) {
	kr := &report.Kernel{Status: report.Fail, Error: "kernel panic", Files: map[string]string{},
		Findings: []report.Finding{{Kind: "Kernel panic"}},
		Tests:    []*report.Test{{Name: "TestPanic", Status: report.Crash, Findings: []int{0}}}}
	again := &report.Kernel{Status: report.Fail, Error: "1 test(s) failed", Boot: &report.Boot{Status: report.Pass},
		Files:    map[string]string{"console.reboot1.log": "x"},
		Findings: []report.Finding{{Kind: "WARNING", Owner: report.OwnerKernel}, {Kind: "WARNING", Test: "p: TestW"}},
		Tests:    []*report.Test{{Name: "TestZ", Status: report.Pass}, {Name: "TestW", Status: report.Fail, Findings: []int{1}}}}
	mergeReboot(kr, again)
	if len(kr.Tests) != 3 || !kr.Tests[1].AfterReboot || kr.Tests[0].AfterReboot {
		t.Fatalf("tests %+v: want the reboot's two appended and marked", kr.Tests)
	}
	if len(kr.Findings) != 2 || !slices.Equal(kr.Tests[2].Findings, []int{1}) || kr.Findings[1].Test != "p: TestW" {
		t.Errorf("findings %+v, TestW's %v: want the test's finding renumbered, the kernel's own dropped", kr.Findings, kr.Tests[2].Findings)
	}
	if len(kr.Reboots) != 1 || kr.Files["console.reboot1.log"] == "" {
		t.Errorf("reboots %+v, files %v", kr.Reboots, kr.Files)
	}
	if kr.Status != report.Fail || kr.Error != "kernel panic; after a reboot: 1 test(s) failed" {
		t.Errorf("kernel %s %q", kr.Status, kr.Error)
	}
}

// The guest's blocked tasks and CPUs, dumped with SysRq at the VM's
// deadline, go with the test the deadline cut short.
func TestVMDeadlineDumpGoesWithTheOpenTest(t *testing.T) {
	col := collect.New(collect.Options{})
	for _, ev := range events("a", "run:TestDone", "pass:TestDone", "run:TestHang") {
		col.Handle(ev)
	}
	kr := &report.Kernel{}
	col.Finish(kr, collect.End{Status: report.Timeout, Dump: "task:a.test state:D\n faultmod_read+0x2a/0x50 [faultmod]\n"})
	for _, tt := range kr.Tests {
		has := strings.Contains(tt.Output, "faultmod_read")
		if has != (tt.Name == "TestHang") {
			t.Errorf("%s (%s) output:\n%s", tt.Name, tt.Status, tt.Output)
		}
	}
}

// The tests a package declares are read from its sources, so that a crash
// in a binary's last test does not cost a reboot that finds nothing to run.
func TestPendingKnowsWhenNothingIsLeft(t *testing.T) {
	names, err := testNames("../../testdata/faultmod/guest", "amd64")
	if err != nil || !slices.Contains(names, "TestPanic") || !slices.Contains(names, "TestZZAfterCrash") || slices.Contains(names, "TestMain") {
		t.Fatalf("testNames = %q, %v", names, err)
	}
	known := map[string][]string{"f": names}
	bin := func(args ...string) []event.TestBinary { return []event.TestBinary{{Name: "f", Args: args}} }
	for _, c := range []struct {
		name string
		rest []event.TestBinary
		done []string
		want bool
	}{
		{"the run's tests all done", bin("-test.run=^(TestAPass|TestPanic)$"), []string{"TestAPass", "TestPanic"}, false},
		{"one of the run's tests left", bin("-test.run=^(TestAPass|TestPanic|TestZZAfterCrash)$"), []string{"TestAPass", "TestPanic"}, true},
		{"no -test.run: others left", bin(), []string{"TestAPass", "TestPanic"}, true},
		{"the rest skipped by the user", bin("-test.run=^(TestAPass|TestPanic|TestZZAfterCrash)$", "-test.skip=TestZZ"), []string{"TestAPass", "TestPanic"}, false},
		{"unknown binary", []event.TestBinary{{Name: "other"}}, nil, true},
	} {
		got := len(pending(c.rest, known, map[string][]string{"f": c.done})) > 0
		if got != c.want {
			t.Errorf("%s: pending %v, want %v", c.name, got, c.want)
		}
	}
	for name, want := range map[string]bool{"Test": true, "TestA": true, "Test_x": true, "Testing": false, "TestÅ": true, "Benchmark": false} {
		if isTestName(name) != want {
			t.Errorf("isTestName(%q) = %v", name, !want)
		}
	}
}

// KUnit suites run at every load of their module: a reboot's VM reports
// them again, and the first VM's results stand, but for cases that did
// not run there.
func TestMergeRebootKeepsTheFirstResultOfATestReportedTwice(t *testing.T) {
	kr := &report.Kernel{Status: report.Fail, Files: map[string]string{}, Tests: []*report.Test{
		{Package: "kernel/kunit/s", Name: "a", Status: report.Pass},
		{Package: "kernel/kunit/s", Name: "#2", Status: report.Crash},
		{Package: "kernel/kunit/s", Name: "#3", Status: report.NotRun},
	}}
	again := &report.Kernel{Status: report.Pass, Tests: []*report.Test{
		{Package: "kernel/kunit/s", Name: "a", Status: report.Pass},
		{Package: "kernel/kunit/s", Name: "#2", Status: report.Pass},
		{Package: "kernel/kunit/s", Name: "#3", Status: report.Pass},
		{Package: "mmapdrv", Name: "TestLater", Status: report.Pass},
	}}
	mergeReboot(kr, again)
	var got []string
	for _, tt := range kr.Tests {
		got = append(got, fmt.Sprintf("%s=%s/%v", tt.Name, tt.Status, tt.AfterReboot))
	}
	want := "[a=pass/false #2=crash/false #3=pass/true TestLater=pass/true]"
	if fmt.Sprint(got) != want {
		t.Errorf("merged tests = %v, want %s", got, want)
	}
}
