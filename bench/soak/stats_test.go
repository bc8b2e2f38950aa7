package main

import (
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/report"
)

// round makes a one-kernel report: the kernel's status, its boot attempt
// (0: no boot) and its tests as name=status pairs.
func round(status report.Status, attempt int, boot float64, tests ...string) *report.Report {
	k := &report.Kernel{Name: "6.1.0-57-amd64", Selector: "6.1", ABI: "6.1.0-57-amd64", Status: status}
	if attempt > 0 {
		k.Boot = &report.Boot{Status: report.Pass, Attempt: attempt}
		k.Timing.Boot = boot
	}
	if status == report.Error && attempt > 0 {
		k.Boot.Status, k.Error = report.Error, "QEMU died (signal: killed)\nmore"
	}
	for _, t := range tests {
		name, st, _ := strings.Cut(t, "=")
		k.Tests = append(k.Tests, &report.Test{Package: "p", Name: name, Status: report.Status(st)})
	}
	return &report.Report{Kernels: []*report.Kernel{k}}
}

func TestSoakCounts(t *testing.T) {
	for _, c := range []struct {
		name                    string
		rounds                  []*report.Report
		boots, retries, infra   int
		failures                int
		flaky                   []string
		bootLo, bootMed, bootHi float64
	}{
		{"steady passes", []*report.Report{
			round(report.Pass, 1, 2.0, "A=pass", "B=skip"),
			round(report.Pass, 1, 3.0, "A=pass", "B=skip"),
			round(report.Pass, 1, 2.5, "A=pass", "B=skip"),
		}, 3, 0, 0, 0, nil, 2.0, 2.5, 3.0},
		{"a test that fails once is flaky", []*report.Report{
			round(report.Pass, 1, 2.0, "A=pass"),
			round(report.Fail, 1, 2.0, "A=fail"),
		}, 2, 0, 0, 1, []string{"p.A on 6.1.0-57-amd64: fail 1, pass 1"}, 2.0, 2.0, 2.0},
		{"a test missing from a finished round is flaky", []*report.Report{
			round(report.Pass, 1, 2.0, "A=pass", "B=pass"),
			round(report.Pass, 1, 2.0, "A=pass"),
		}, 2, 0, 0, 0, []string{"p.B on 6.1.0-57-amd64: absent 1, pass 1"}, 2.0, 2.0, 2.0},
		{"a retried boot and an infrastructure error", []*report.Report{
			round(report.Pass, 2, 4.0, "A=pass"),
			round(report.Error, 2, 0),
			round(report.Error, 0, 0),
		}, 4, 2, 2, 0, nil, 4.0, 4.0, 4.0},
		{"a consistent failure is not flaky", []*report.Report{
			round(report.Fail, 1, 1.0, "A=fail"),
			round(report.Fail, 1, 3.0, "A=fail"),
		}, 2, 0, 0, 2, nil, 1.0, 2.0, 3.0},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSoak()
			for _, r := range c.rounds {
				s.add(r)
			}
			boots, retries, infra := s.totals()
			if boots != c.boots || retries != c.retries || infra != c.infra || s.failures() != c.failures {
				t.Errorf("boots %d retries %d infra %d failures %d, want %d %d %d %d",
					boots, retries, infra, s.failures(), c.boots, c.retries, c.infra, c.failures)
			}
			var flaky []string
			for _, f := range s.flaky() {
				flaky = append(flaky, f.String())
			}
			if strings.Join(flaky, "|") != strings.Join(c.flaky, "|") {
				t.Errorf("flaky %q, want %q", flaky, c.flaky)
			}
			lo, med, hi := spread(s.kernels["6.1"].boot)
			if lo != c.bootLo || med != c.bootMed || hi != c.bootHi {
				t.Errorf("boot spread %.1f/%.1f/%.1f, want %.1f/%.1f/%.1f", lo, med, hi, c.bootLo, c.bootMed, c.bootHi)
			}
			if c.infra > 0 && (len(s.errors) != c.infra || strings.Contains(s.errors[0], "more")) {
				t.Errorf("errors %q, want one line per infrastructure error", s.errors)
			}
		})
	}
}
