package vmtest_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// TestI386 runs the bundled driver's suite on Debian's i386 6.1
// (6.1.0-N-686-pae) under qemu-system-i386's q35: the module built by the
// host's gcc-12 with the kernel's -m32 (W=1, no warnings), the agent and
// the tests built GOARCH=386, the PVH vmlinux an ELF32. Every guest test
// passes, the kernel logs no bug, and the VM used the kernel's snapshot:
// saved by the first run, restored by every later one (a restore that
// fails falls back to booting, which names no snapshot).
func TestI386(t *testing.T) {
	t.Parallel()
	suite := filepath.Join("..", "guest", "mmapdrv")
	rep := vmtest.Run(t, vmtest.Config{
		Kernels: []string{"6.1"},
		Arch:    []string{"i386"},
		Modules: []string{filepath.Join("..", "kmod")},
		Tests:   []string{suite},
		W1:      true,
		OutDir:  t.TempDir(),
	})
	if len(rep.Kernels) != 1 {
		t.Fatalf("%d kernels ran, want i386 6.1 alone", len(rep.Kernels))
	}
	k := rep.Kernels[0]
	if k.Arch != "i386" {
		t.Errorf("%s ran as %q, want i386", k.Name, k.Arch)
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
