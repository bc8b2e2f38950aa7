package collect

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// testdata reads a fixture.
func testdata(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// feedLog hands c kernel log records, one per line, numbered from seq and
// timed from usec on; a console timestamp ("[  1.2] ") is cut off.
func feedLog(c *Collector, lines []string, seq uint64, usec int64) {
	for i, line := range lines {
		if j := strings.Index(line, "] "); strings.HasPrefix(line, "[") && j > 0 {
			line = line[j+2:]
		}
		c.Handle(event.Event{Type: event.Kmsg, Kmsg: &event.KmsgRecord{Seq: seq + uint64(i), Usec: usec + int64(i), Text: line}})
	}
}

// wantKUnit checks the KUnit cases the collector reported.
func wantKUnit(t *testing.T, c *Collector, want []string) {
	t.Helper()
	if got := kunitSummary(c.kernel); !reflect.DeepEqual(got, want) {
		t.Errorf("KUnit tests:\n got %q\nwant %q", got, want)
	}
}

func kunitSummary(k *report.Kernel) []string {
	var out []string
	for _, t := range k.Tests {
		if strings.HasPrefix(t.Package, kunitPackage) {
			out = append(out, t.Package+" "+t.Name+"="+string(t.Status))
		}
	}
	return out
}

func TestCollectorReportsKUnitCasesFromDebugfs(t *testing.T) {
	results := testdata(t, "../ktap/testdata/debugfs-6.1.ktap")
	c := New(Options{})
	c.Handle(event.Event{Type: event.Hello, Mono: 1e9})
	c.Handle(event.Event{Type: event.ModuleLoad, Module: &event.Module{Name: "mmapdrv_kunit"}, Start: 2e9, Mono: 3e9})
	// The same suite in the kernel log must not be counted twice.
	c.Handle(event.Event{Type: event.Kmsg, Kmsg: &event.KmsgRecord{Usec: 2500000, Text: "    # Subtest: mmapdrv_helpers"}})
	// KUnit taints the kernel with TAINT_TEST ('N'): a note, not a bug.
	c.Handle(event.Event{Type: event.Kmsg, Kmsg: &event.KmsgRecord{Seq: 1, Usec: 2100000, Text: "mmapdrv_kunit: loading test module taints kernel."}})
	c.Handle(event.Event{Type: event.KUnit, Suite: "mmapdrv_helpers", Msg: results, Mono: 4e9})
	c.finish(nil, report.Pass)
	if bugs := c.kernel.Bugs(); len(bugs) != 0 {
		t.Errorf("KUnit's taint reported as a bug: %+v", bugs)
	}
	want := []string{
		"kernel/kunit/mmapdrv_helpers range_ok_accepts_inside=pass",
		"kernel/kunit/mmapdrv_helpers range_rejects_overflow=fail",
		"kernel/kunit/mmapdrv_helpers size_ok_param=pass",
		"kernel/kunit/mmapdrv_helpers size_ok_param/zero=pass",
		"kernel/kunit/mmapdrv_helpers size_ok_param/page=skip",
		"kernel/kunit/mmapdrv_helpers size_ok_param/max=pass",
	}
	wantKUnit(t, c, want)
	failed := c.kernel.Tests[1]
	if !strings.Contains(failed.Output, "EXPECTATION FAILED at kmod/kunit/mmapdrv_kunit.c:40") {
		t.Errorf("failed case's output lacks its diagnostic: %q", failed.Output)
	}
}

func TestCollectorReadsKUnitFromTheLogWithoutDebugfs(t *testing.T) {
	log := testdata(t, "../ktap/testdata/crash-kmsg-6.1.log")
	c := New(Options{})
	// A built-in suite ran at boot, before init: the kernel's, not the
	// run's.
	feedLog(c, []string{"    # Subtest: builtin", "    1..1", "    ok 1 builtin_case", "ok 1 builtin"}, 0, 1000000)
	c.Handle(event.Event{Type: event.Hello, Mono: 2e9})
	// The kernel died loading the module: no module_load event came.
	feedLog(c, strings.Split(strings.TrimSpace(log), "\n"), 4, 40100000)
	c.finish(nil, report.Crash)
	want := []string{
		"kernel/kunit/mmapdrv_helpers range_ok_accepts_inside=pass",
		"kernel/kunit/mmapdrv_helpers range_rejects_overflow=pass",
		"kernel/kunit/mmapdrv_helpers #3=crash",
		"kernel/kunit/mmapdrv_helpers #4=not-run",
	}
	wantKUnit(t, c, want)
}

// Real output of testdata/kunitfail on 6.1-debug: debugfs lost the first
// two parameters of kunitfail_positive, the kernel log has them.
func TestCollectorTakesParametersFromTheLogWhereDebugfsLostThem(t *testing.T) {
	results := testdata(t, "../ktap/testdata/kunitfail-debugfs-6.1.ktap")
	log := testdata(t, "../ktap/testdata/kunit-dmesg-6.1.log")
	c := New(Options{})
	c.Handle(event.Event{Type: event.Hello, Mono: 1e9})
	c.Handle(event.Event{Type: event.ModuleLoad, Module: &event.Module{Name: "kunitfail"}, Start: 6e9, Mono: 7e9})
	feedLog(c, strings.Split(strings.TrimSpace(log), "\n"), 0, 6e6+1)
	c.Handle(event.Event{Type: event.KUnit, Suite: "kunitfail", Msg: results, Mono: 8e9})
	c.finish(nil, report.Pass)
	want := []string{
		"kernel/kunit/kunitfail kunitfail_passes=pass",
		"kernel/kunit/kunitfail kunitfail_fails=fail",
		"kernel/kunit/kunitfail kunitfail_skips=skip",
		"kernel/kunit/kunitfail kunitfail_positive=pass",
		"kernel/kunit/kunitfail kunitfail_positive/value_1=pass",
		"kernel/kunit/kunitfail kunitfail_positive/value_2=pass",
		"kernel/kunit/kunitfail kunitfail_positive/value_3=pass",
	}
	wantKUnit(t, c, want)
}

// Results longer than an event are cut; the kernel log has them whole.
func TestCollectorTakesTheLogWhereTheResultsEventWasCut(t *testing.T) {
	results := testdata(t, "../ktap/testdata/kunitfail-debugfs-6.1.ktap")
	cut := string(results[:strings.Index(results, "not ok 2")]) + "…[truncated]"
	c := New(Options{})
	c.Handle(event.Event{Type: event.Hello, Mono: 1e9})
	feedLog(c, []string{"    KTAP version 1", "    # Subtest: kunitfail", "    1..4", "    ok 1 kunitfail_passes",
		"    not ok 2 kunitfail_fails", "    ok 3 kunitfail_skips # SKIP deliberately skipped", "    ok 4 kunitfail_positive", "not ok 2 kunitfail"}, 0, 2000000)
	c.Handle(event.Event{Type: event.KUnit, Suite: "kunitfail", Msg: cut, Mono: 3e9})
	c.finish(nil, report.Pass)
	want := []string{
		"kernel/kunit/kunitfail kunitfail_passes=pass",
		"kernel/kunit/kunitfail kunitfail_fails=fail",
		"kernel/kunit/kunitfail kunitfail_skips=skip",
		"kernel/kunit/kunitfail kunitfail_positive=pass",
	}
	wantKUnit(t, c, want)
}

// The KTAP a module's suites log while a sweep point loads it, a call
// failing, are the point's: a share VM of a sweep, which never runs the
// tests nor reads debugfs, reported every point's cases as the run's
// (7.3-debug: 2,900 KUnit results, 79 of them failed by the injected
// failure). The suites logged outside the points are the run's.
func TestCollectorLeavesTheKUnitOfSweepPointsToThem(t *testing.T) {
	c := New(Options{})
	c.Handle(event.Event{Type: event.Hello, Mono: 1e9})
	p := event.Point{Op: event.OpLoad, Module: "mmapdrv_kunit", Nth: 7, Injected: true}
	begun := p
	begun.Begun = true
	c.Handle(event.Event{Type: event.FaultPoint, Point: &begun, Mono: 2e9})
	feedLog(c, []string{"    # Subtest: mmapdrv_checks", "    1..1", "    not ok 1 fits_test", "not ok 1 mmapdrv_checks"}, 0, 2100000)
	c.Handle(event.Event{Type: event.FaultPoint, Point: &p, Mono: 3e9})
	feedLog(c, []string{"    # Subtest: mmapdrv_checks", "    1..1", "    ok 1 fits_test", "ok 1 mmapdrv_checks"}, 4, 4000000)
	c.finish(nil, report.Pass)
	wantKUnit(t, c, []string{"kernel/kunit/mmapdrv_checks fits_test=pass"})
}
