package main

import (
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/harness"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// TestReplaceSection: the fuzzing section replaces its old self, or is
// appended, and what surrounds it stays.
func TestReplaceSection(t *testing.T) {
	section := begin + "\nnew\n" + end + "\n"
	for _, c := range []struct{ doc, want string }{
		{"# r\n\n" + begin + "\nold\n" + end + "\n\n## after\n", "# r\n\n" + section + "\n## after\n"},
		{"# r\n", "# r\n\n" + section},
	} {
		if got := replaceSection(c.doc, section); got != c.want {
			t.Errorf("replaceSection(%q) = %q, want %q", c.doc, got, c.want)
		}
	}
}

// TestMagicTry: a try found the bug when the glue saw KASAN's report of
// the seeded write, after the job's time; another report or none is not
// it.
func TestMagicTry(t *testing.T) {
	kernel := func(out string) *report.Kernel {
		return &report.Kernel{Tests: []*report.Test{{Package: "fuzz", Name: "fuzz", Elapsed: 42.4, Output: out}}}
	}
	crash := func(line string) string {
		return harness.ReportLine + line + "\n" + harness.InputLine + "Rla0Sw==\nstat::number_of_executed_units: 5000\n"
	}
	for _, c := range []struct {
		name, out string
		found     bool
	}{
		{"the seeded write", crash("BUG: KASAN: slab-out-of-bounds in mmapdrv_ioctl+0x4ab/0x4e0 [mmapdrv]"), true},
		{"another report", crash("WARNING: CPU: 0 PID: 1 at mm/slab.c:1 f+0x1/0x2"), false},
		{"none", "stat::number_of_executed_units: 9000\n", false},
	} {
		tr := magicTry(kernel(c.out), 3, true)
		if tr.found != c.found || (c.found && (tr.after.Seconds() != 42 || tr.execs != 5000)) || tr.seed != 3 || !tr.cmp {
			t.Errorf("%s: %+v, want found %v", c.name, tr, c.found)
		}
	}
}
