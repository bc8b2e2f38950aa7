package report

import (
	"encoding/xml"
	"strings"
	"testing"
)

// junitCases renders r and returns its first suite's cases by name.
func junitCases(t *testing.T, r *Report) map[string]junitCase {
	t.Helper()
	var b strings.Builder
	if err := r.WriteJUnit(&b); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal([]byte(b.String()), &doc); err != nil {
		t.Fatal(err)
	}
	cases := map[string]junitCase{}
	for _, c := range doc.Suites[0].Cases {
		cases[c.Name] = c
	}
	return cases
}

// Each finding outside any test is on the case it belongs to: a module's
// load or unload, or a case of its own that a CI tab lists.
func TestJUnitRunLevelFindingsAreCases(t *testing.T) {
	stepLeak := &Report{Kernels: []*Kernel{{Name: "6.1.192-debug", Status: Fail, Boot: &Boot{Status: Pass},
		Modules: []Module{{Name: "m", Load: Pass, Unload: Pass}},
		Findings: []Finding{
			{Kind: "kmemleak", Title: "kmemleak: unreferenced object in m_init", Step: "unload m", Report: "unreferenced object 0xffff888004a1b000 (size 64)"},
			{Kind: "KASAN", Title: "KASAN: wild-memory-access Read in do_raw_spin_lock", Owner: OwnerKernel, Report: "BUG: KASAN: wild-memory-access"},
		}}}}
	for _, tc := range []struct {
		name     string
		r        *Report
		testcase string
		failure  string // "" for a case that passes
	}{
		{"warn", readRun(t, "warn"), "unload faultmod", "resource temporarily unavailable; module faultmod could not be unloaded (outside any test)"},
		{"flood", readRun(t, "flood"), "kernel log: 8161 kernel log records lost (the guest's log buffer overran before they were read): a kernel report may be missing",
			"8161 kernel log records lost (the guest's log buffer overran before they were read): a kernel report may be missing (outside any test)"},
		{"a leak at unload", stepLeak, "unload m", "kmemleak: unreferenced object in m_init (during unload m)"},
		{"the kernel's own", stepLeak, "kernel's own: KASAN: wild-memory-access Read in do_raw_spin_lock", ""},
	} {
		c, ok := junitCases(t, tc.r)[tc.testcase]
		switch {
		case !ok:
			t.Errorf("%s: no case %q", tc.name, tc.testcase)
		case tc.failure == "" && c.Failure != nil:
			t.Errorf("%s: %s fails: %+v", tc.name, tc.testcase, c.Failure)
		case tc.failure != "" && (c.Failure == nil || c.Failure.Message != tc.failure):
			t.Errorf("%s: %s fails with %+v, want %q", tc.name, tc.testcase, c.Failure, tc.failure)
		}
	}
}

// A finding during a test is told on that test's case alone.
func TestJUnitTestFindingsOnTheirTest(t *testing.T) {
	cases := junitCases(t, readRun(t, "warn"))
	for name, c := range cases {
		n := strings.Count(c.Failure.textOrEmpty(), "WARNING: CPU: 0 PID: 86")
		if want := map[bool]int{true: 1, false: 0}[name == "TestWarnDuringPassingTest"]; n != want {
			t.Errorf("case %s tells the WARNING %d times, want %d", name, n, want)
		}
	}
}

func (m *junitMessage) textOrEmpty() string {
	if m == nil {
		return ""
	}
	return m.Text
}
