package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/internal/cachedir"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
)

// needIndex makes sure the default cache has the archive index that
// --offline reads: made by fetching a kernel when it has none (skipped in
// -short mode).
func needIndex(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(cachedir.Layout{Root: kernel.DefaultCacheDir()}.Apt(), "index.json")); err != nil {
		kerneltest.Get(t, "6.1")
	}
}

// In a list of several architectures a series one of them lacks (Debian
// builds no i386 6.12, no riscv64 before 6.12) is a row saying so in a
// line, not an error; a selector no architecture of the list has is.
func TestKernelsListGridCells(t *testing.T) {
	needIndex(t)
	out, code := runCLI(t, "kernels", "list", "--offline", "--json", "--arch", "i386,riscv64", "6.1", "6.12")
	var rows []kernelRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil || code != exitOK {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	want := []struct{ sel, arch, lacks string }{
		{"6.1", "i386", ""},
		{"6.12", "i386", "Debian has no i386 kernel for 6.12; newest 6.1"},
		{"6.1", "riscv64", "Debian has no riscv64 kernel before 6.12"},
		{"6.12", "riscv64", ""},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows = %+v, want %d", rows, len(want))
	}
	for i, w := range want {
		r := rows[i]
		if r.Selector != w.sel || r.Arch != w.arch || r.Lacks != w.lacks || r.Error != "" || (w.lacks == "") != (r.ABI != "") {
			t.Errorf("row %d = %+v, want %s on %s lacking %q", i, r, w.sel, w.arch, w.lacks)
		}
	}
	table, code := runCLI(t, "kernels", "list", "--offline", "--arch", "i386,riscv64", "6.12")
	if code != exitOK || !strings.Contains(table, "SELECTOR  ARCH") ||
		!strings.Contains(table, "- (Debian has no i386 kernel for 6.12; newest 6.1)") || strings.Contains(table, "nearest available") {
		t.Errorf("exit %d, table:\n%s\nwant an ARCH column and i386's short line", code, table)
	}
}

// What a run of one architecture names and it lacks stays a usage error
// with the whole story; so does what no architecture of a list has, for
// kernels list and for a run, which stops before building anything.
func TestKernelsNoArchitectureHasIsExit2(t *testing.T) {
	needIndex(t)
	for _, c := range []struct {
		args []string
		say  string // in the output, "" for nothing
	}{
		{[]string{"kernels", "list", "--offline", "--arch", "i386", "6.12"}, "nearest available: 6.1"},
		{[]string{"kernels", "list", "--offline", "--arch", "i386,riscv64", "4.19"}, "Debian has no riscv64 kernel before 6.12"},
		{[]string{"run", "-q", "--offline", "--arch", "i386,riscv64", "--kernels", "4.19", "--module", "../../kmod",
			"--out", filepath.Join(t.TempDir(), "out")}, ""},
	} {
		out, code := runCLI(t, c.args...)
		if code != exitUsage || !strings.Contains(out, c.say) {
			t.Errorf("kmodvm %q: exit %d, want %d saying %q:\n%s", c.args, code, exitUsage, c.say, out)
		}
	}
}
