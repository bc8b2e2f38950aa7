package allow

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/report"
)

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

var (
	warnF  = Rule{Title: regexp.MustCompile(`^WARNING in f$`), Reason: "bug 1", Expires: day("2026-06-30"), Source: "kmodvm.toml:7"}
	anyKAS = Rule{Title: regexp.MustCompile(`KASAN: .* in g`), Reason: "bug 2", Expires: day("2026-01-31")}
)

// A pattern is searched for in the title, or in the headline the reports
// show, so that ^ and $ anchor it; the first rule that matches allows,
// and taint notes are never marked.
func TestMarkMatchesTitles(t *testing.T) {
	lockdep := Rule{Title: regexp.MustCompile(`^lockdep: possible deadlock in f$`), Reason: "bug 3", Expires: day("2026-06-30")}
	l := List{warnF, anyKAS, lockdep}
	for _, c := range []struct {
		kind, title string
		want        string // the rule's source or pattern; "" for none
	}{
		{"WARNING", "WARNING in f", "kmodvm.toml:7"},
		{"WARNING", "WARNING in f2", ""},
		{"WARNING", "WARNING in f (2)", ""},
		{"KASAN", "KASAN: use-after-free Read in g", "KASAN: .* in g"},
		{"KASAN", "KASAN: use-after-free Read in gh", "KASAN: .* in g"},
		{"KASAN", "KASAN: use-after-free Read in h", ""},
		{report.KindTaint, "WARNING in f", ""},
		{"lockdep", "possible deadlock in g", ""},
		{"lockdep", "possible deadlock in f", "^lockdep: possible deadlock in f$"},
		{"lockdep", "KASAN: x in g", "KASAN: .* in g"},
	} {
		f := report.Finding{Kind: c.kind, Title: c.title}
		l.Mark(&f)
		got := ""
		if f.Allowed != nil {
			got = f.Allowed.Source
			if got == "" {
				got = f.Allowed.Pattern
			}
		}
		if got != c.want {
			t.Errorf("%s %q: allowed by %q, want %q", c.kind, c.title, got, c.want)
		}
	}
	f := report.Finding{Kind: "WARNING", Title: "WARNING in f"}
	l.Mark(&f)
	want := report.Allowance{Pattern: "^WARNING in f$", Reason: "bug 1", Expires: "2026-06-30", Source: "kmodvm.toml:7"}
	if *f.Allowed != want {
		t.Errorf("allowance %+v, want %+v", *f.Allowed, want)
	}
}

// A rule allows through its last day, in UTC, and not the day after,
// whatever the clock's zone.
func TestExpiryIsTheLastDayInUTC(t *testing.T) {
	east := time.FixedZone("UTC+10", 10*3600)
	for _, c := range []struct {
		now     time.Time
		expired bool
	}{
		{day("2026-06-29"), false},
		{day("2026-06-30").Add(23*time.Hour + 59*time.Minute), false},
		{day("2026-07-01"), true},
		{time.Date(2026, 7, 1, 8, 0, 0, 0, east), false}, // still June 30 in UTC
		{time.Date(2026, 7, 1, 11, 0, 0, 0, east), true},
	} {
		if got := warnF.Expired(c.now); got != c.expired {
			t.Errorf("Expired(%s) = %v, want %v", c.now, got, c.expired)
		}
	}
	active := List{warnF, anyKAS}.Active(day("2026-03-01"))
	if len(active) != 1 || active[0].Source != "kmodvm.toml:7" {
		t.Errorf("Active on 2026-03-01 = %v, want the entry of kmodvm.toml:7 alone", active)
	}
}

// An expired rule fails the run with a message that names it, its expiry
// and reason, and says what to do, by whether it still matches findings.
func TestOverdueNamesExpiredRules(t *testing.T) {
	rep := &report.Report{Kernels: []*report.Kernel{{Name: "6.1", Findings: []report.Finding{
		{Kind: "WARNING", Title: "WARNING in f"}, {Kind: "WARNING", Title: "WARNING in f"}, {Kind: report.KindTaint, Title: "WARNING in f"},
	}}}}
	l := List{warnF, anyKAS}
	if err := l.Overdue(day("2026-01-31"), rep); err != nil {
		t.Errorf("on the last day: %v", err)
	}
	err := l.Overdue(day("2026-07-01"), rep)
	if err == nil {
		t.Fatal("no error after both expired")
	}
	for _, want := range []string{
		"kmodvm.toml:7: the allow-list entry /^WARNING in f$/ (bug 1) expired on 2026-06-30; it still matches 2 finding(s) of this run: fix them, or give the entry a later expires date",
		"the allow-list entry /KASAN: .* in g/ (bug 2) expired on 2026-01-31; it matches no finding of this run: remove it",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error:\n%v\nwant a line %q", err, want)
		}
	}
}

func TestCheckNamesWhatARuleLacks(t *testing.T) {
	for _, c := range []struct {
		r    Rule
		want string // "" for a complete rule
	}{
		{warnF, ""},
		{Rule{Title: regexp.MustCompile("x"), Expires: day("2026-01-01"), Source: "f.toml:3"}, "f.toml:3: the allow-list entry /x/ lacks a reason"},
		{Rule{Reason: " "}, "the allow-list entry lacks a title pattern, a reason, an expiry date"},
	} {
		err := c.r.Check()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v: %v", c.r, err)
		case c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want)):
			t.Errorf("%v: error %v, want %q", c.r, err, c.want)
		}
	}
}
