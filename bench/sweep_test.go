package main

import (
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/report"
)

// The sweep's section replaces its old self, or joins the end, and a
// full run keeps it.
func TestSweepSection(t *testing.T) {
	sec := sweepBegin + "\nnew\n" + sweepEnd + "\n"
	for _, c := range []struct{ doc, want string }{
		{"# r\n\nbody\n", "# r\n\nbody\n\n" + sec},
		{"# r\n" + sweepBegin + "\nold\n" + sweepEnd + "\n<!-- debug-kernels -->\n", "# r\n" + sec + "<!-- debug-kernels -->\n"},
	} {
		got := replaceSection(c.doc, sec, sweepBegin, sweepEnd)
		if got != c.want {
			t.Errorf("replaceSection(%q) = %q, want %q", c.doc, got, c.want)
		}
		if kept := keepSection(got, sweepBegin, sweepEnd); kept != sec {
			t.Errorf("keepSection = %q, want %q", kept, sec)
		}
	}
	if kept := keepSection("no section", sweepBegin, sweepEnd); kept != "" {
		t.Errorf("keepSection of a file without one = %q", kept)
	}
}

// The load sweep's time is mmapdrv's load points only, for the VM that
// swept longest (VM j of 2 ran the points N with N-1 = j mod 2).
func TestLoadPoints(t *testing.T) {
	pt := func(op, mod string, n int, secs float64) *report.Test {
		return &report.Test{Elapsed: secs, Fault: &report.FaultPoint{Op: op, Module: mod, Nth: n}}
	}
	k := &report.Kernel{Tests: []*report.Test{
		pt("load", "mmapdrv", 1, 1), pt("load", "mmapdrv", 2, 2), pt("load", "mmapdrv", 3, 3),
		pt("load", "mmapdrv_kunit", 2, 50), pt("unload", "mmapdrv", 1, 40), {Name: "TestOther", Elapsed: 100},
	}}
	s := sweepRun{vms: 2, rep: &report.Report{Kernels: []*report.Kernel{k}}}
	if n, busy := s.loadPoints(); n != 3 || busy != 4 {
		t.Errorf("loadPoints = %d, %v; want 3, 4 (points 1 and 3 in the first VM)", n, busy)
	}
	if n, busy := s.points(); n != 5 || busy != 52 {
		t.Errorf("points = %d, %v; want 5, 52", n, busy)
	}
}
