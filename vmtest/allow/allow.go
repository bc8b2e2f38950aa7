// Package allow is a project's allow-list of known kernel findings: each
// entry (a Rule) accepts the findings whose title its pattern matches,
// with a reason and an expiry date, so that a run reports them as allowed
// instead of failing on them, until the date passes. kmodvm.toml's
// [[allow]] tables become a List in the CLI; Go users set
// vmtest.Config.Allow. It is data for the report layer: the collector
// marks the findings (report.Finding.Allowed), and the verdict and every
// rendering follow the mark.
//
// A pattern is a Go regular expression (RE2 syntax) searched for in the
// title, as regexp's MatchString does, and in the title as the reports
// show it (the headline, which names the kind when the title does not):
// `^WARNING in mydrv_ioctl$` matches that title alone, `in mydrv_` any
// title naming a function that starts so.
package allow

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/report"
)

// dateLayout is how an expiry date is written: TOML's local date.
const dateLayout = time.DateOnly

// Rule is one allow-list entry.
type Rule struct {
	// Title is matched against a finding's title and headline (Matches).
	Title *regexp.Regexp
	// Reason says why the findings are acceptable: a bug report, the
	// kernel version that fixes it.
	Reason string
	// Expires is the last day the rule allows findings, in UTC: from the
	// next day on, it allows nothing and fails the run (Overdue). Only
	// its date counts.
	Expires time.Time
	// Source says where the rule was written, for messages:
	// "kmodvm.toml:12". Empty names the rule by its pattern.
	Source string
}

// List is an allow-list: the first rule that matches a finding allows it.
type List []Rule

// String names r in messages: where it was written, if known, then its
// pattern: "kmodvm.toml:12: the allow-list entry /^WARNING in f$/".
func (r Rule) String() string {
	s := "the allow-list entry"
	if p := r.pattern(); p != "" {
		s += " /" + p + "/"
	}
	if r.Source != "" {
		s = r.Source + ": " + s
	}
	return s
}

func (r Rule) pattern() string {
	if r.Title == nil {
		return ""
	}
	return r.Title.String()
}

// ExpiresOn is r's expiry date as written: YYYY-MM-DD.
func (r Rule) ExpiresOn() string { return r.Expires.UTC().Format(dateLayout) }

// Expired reports whether r's last day lies before now's day (in UTC).
func (r Rule) Expired(now time.Time) bool {
	return now.UTC().Format(dateLayout) > r.ExpiresOn()
}

// Check reports what r lacks of a pattern, a reason and an expiry date.
func (r Rule) Check() error {
	var missing []string
	if r.pattern() == "" {
		missing = append(missing, "a title pattern")
	}
	if strings.TrimSpace(r.Reason) == "" {
		missing = append(missing, "a reason")
	}
	if r.Expires.IsZero() {
		missing = append(missing, "an expiry date")
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%s lacks %s: every entry needs a title pattern, a reason and an expiry date", r, strings.Join(missing, ", "))
}

// Check reports every rule of l that lacks a part.
func (l List) Check() error {
	var errs []error
	for _, r := range l {
		errs = append(errs, r.Check())
	}
	return errors.Join(errs...)
}

// Active returns the rules of l not expired at now.
func (l List) Active(now time.Time) List {
	var out List
	for _, r := range l {
		if !r.Expired(now) {
			out = append(out, r)
		}
	}
	return out
}

// Matches reports whether r's pattern matches f's title, bare or as the
// reports show it (report.Finding.Headline: "lockdep: possible deadlock
// in f" for the title "possible deadlock in f"), so that a pattern
// copied from a report matches.
func (r Rule) Matches(f report.Finding) bool {
	return r.Title != nil && (r.Title.MatchString(f.Title) || r.Title.MatchString(f.Headline()))
}

// Match returns the first rule of l that matches f.
func (l List) Match(f report.Finding) (Rule, bool) {
	for _, r := range l {
		if r.Matches(f) {
			return r, true
		}
	}
	return Rule{}, false
}

// Mark sets f.Allowed when a rule of l matches f. Taint notes fail
// nothing and are left alone. l should hold the rules in force (see
// Active): Mark does not look at the dates.
func (l List) Mark(f *report.Finding) {
	if f.Kind == report.KindTaint {
		return
	}
	if r, ok := l.Match(*f); ok {
		f.Allowed = r.Allowance()
	}
}

// Allowance is r as a finding it allowed records it.
func (r Rule) Allowance() *report.Allowance {
	return &report.Allowance{Pattern: r.pattern(), Reason: r.Reason, Expires: r.ExpiresOn(), Source: r.Source}
}

// Overdue returns an error naming each rule of l expired at now, with its
// expiry, its reason and what to do, judged by rep, the run's report: a
// rule that still matches findings of the run names how many (fix the
// bug, or give the rule a later date), one that matches none can go. It
// is nil when no rule has expired. An expired rule fails the run: it was
// meant to be looked at again by then.
func (l List) Overdue(now time.Time, rep *report.Report) error {
	var errs []error
	for _, r := range l {
		if !r.Expired(now) {
			continue
		}
		n := r.matches(rep)
		what := "it matches no finding of this run: remove it"
		if n > 0 {
			what = fmt.Sprintf("it still matches %d finding(s) of this run: fix them, or give the entry a later expires date", n)
		}
		errs = append(errs, fmt.Errorf("%s (%s) expired on %s; %s", r, r.Reason, r.ExpiresOn(), what))
	}
	return errors.Join(errs...)
}

// matches counts the bugs of rep that r matches.
func (r Rule) matches(rep *report.Report) int {
	n := 0
	if rep == nil {
		return 0
	}
	for _, k := range rep.Kernels {
		for _, f := range k.Bugs() {
			if r.Matches(f) {
				n++
			}
		}
	}
	return n
}
