package collect

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/allow"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// 6.1-warn replayed with the allow-list accepting its WARNING: the test
// it happened during passes, live and in the report, which keeps the
// finding, marked allowed, on that test; the Oops of the same run, which
// no rule matches, still fails its test and the kernel, and so does the
// module that would not unload, whatever a rule says of its title.
func TestAllowedFindingsFailNothing(t *testing.T) {
	rules := allow.List{
		{Title: regexp.MustCompile(`^WARNING in faultmod_ioctl$`), Reason: "on purpose", Expires: time.Date(2999, 12, 31, 0, 0, 0, 0, time.UTC), Source: "kmodvm.toml:5"},
		{Title: regexp.MustCompile(`could not be unloaded`), Reason: "not a kernel report", Expires: time.Date(2999, 12, 31, 0, 0, 0, 0, time.UTC)},
	}
	var lives []Live
	c := New(Options{Allow: rules, Live: func(l Live) { lives = append(lives, l) }})
	c.Decode(bytes.NewReader(readRecording(t, "6.1-warn", "events.jsonl")), nil)
	kr := &report.Kernel{Name: "6.1-warn", Boot: &report.Boot{Status: report.Pass}}
	c.Finish(kr, End{Status: report.Crash, Console: readRecording(t, "6.1-warn", "console.log")})
	kr.Status, kr.Error = c.Verdict(kr)

	checkTests(t, kr, map[string]report.Status{
		"guest: TestWarnDuringPassingTest": report.Pass,
		"guest: TestOopsInChild":           report.Fail,
	})
	if kr.Status != report.Fail || strings.Contains(kr.Error, "WARNING") {
		t.Errorf("verdict %s %q, want a failure for the Oops alone", kr.Status, kr.Error)
	}
	allowed := 0
	for i, f := range kr.Findings {
		if f.Allowed == nil {
			continue
		}
		allowed++
		if f.Title != "WARNING in faultmod_ioctl" || f.Allowed.Source != "kmodvm.toml:5" || f.Test != "guest: TestWarnDuringPassingTest" {
			t.Errorf("finding %d allowed: %+v by %+v", i, f, *f.Allowed)
		}
		if tt := kr.Find(report.TestKey{Package: "guest", Name: "TestWarnDuringPassingTest"}); tt == nil || len(tt.Findings) != 1 || tt.Findings[0] != i {
			t.Errorf("the test does not list its allowed finding: %+v", tt)
		}
	}
	if allowed != 1 {
		t.Errorf("%d findings allowed, want the WARNING alone", allowed)
	}
	seen := false
	for _, l := range lives {
		if l.End == nil || l.Name != "TestWarnDuringPassingTest" {
			continue
		}
		seen = true
		if l.End.Status != report.Pass || len(l.Findings) != 1 || l.Findings[0].Allowed == nil {
			t.Errorf("live end: %s with %+v, want a pass with the allowed finding", l.End.Status, l.Findings)
		}
	}
	if !seen {
		t.Error("no live end of TestWarnDuringPassingTest")
	}
}
