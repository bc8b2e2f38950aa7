package main

import "testing"

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
