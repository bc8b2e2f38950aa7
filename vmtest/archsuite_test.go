package vmtest_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// runArchSuite runs the bundled driver's suite on Debian's 6.1 of the
// architecture name, W=1, and wants what TestI386 and TestArmhf say: one
// kernel of that architecture, passing, built without warnings, no bug in
// its log, every guest test run, and the VM saved to or restored from the
// kernel's snapshot (a restore that fails falls back to booting, which
// names no snapshot).
func runArchSuite(t *testing.T, name string) {
	suite := filepath.Join("..", "guest", "mmapdrv")
	rep := vmtest.Run(t, vmtest.Config{
		Kernels: []string{"6.1"},
		Arch:    []string{name},
		Modules: []string{filepath.Join("..", "kmod")},
		Tests:   []string{suite},
		W1:      true,
		OutDir:  t.TempDir(),
	})
	if len(rep.Kernels) != 1 {
		t.Fatalf("%d kernels ran, want %s 6.1 alone", len(rep.Kernels), name)
	}
	k := rep.Kernels[0]
	if k.Arch != name {
		t.Errorf("%s ran as %q, want %s", k.Name, k.Arch, name)
	}
	if k.Status != report.Pass {
		t.Errorf("%s: %s, want pass", k.Name, k.Status)
	}
	if k.Build == nil || len(k.Build.Warnings) > 0 {
		t.Errorf("%s: the driver must build without warnings (W=1): %+v", k.Name, k.Build)
	}
	if bugs := k.Bugs(); len(bugs) > 0 {
		t.Errorf("%s: %d findings, want none (taint notes aside): %+v", k.Name, len(bugs), bugs)
	}
	if k.Boot == nil || !slices.Contains([]string{"saved", "restored"}, k.Boot.Snapshot) {
		t.Errorf("%s: boot %+v: want the VM saved or restored from the kernel's snapshot", k.Name, k.Boot)
	}
	if !guestNarrowed() {
		wantEveryTestRan(t, k, guestTests(t, suite))
	}
}
