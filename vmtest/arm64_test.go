package vmtest_test

import (
	"path/filepath"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// TestArm64 runs the bundled driver's suite on Debian's arm64 6.1 under
// QEMU's virt machine: the module cross-built with the kernel's compiler
// (aarch64-linux-gnu-gcc-12, W=1, no warnings), the agent and the tests
// built for arm64, the events port a virtio-serial port whose drivers the
// agent loads first. Every guest test passes and the kernel logs no bug.
func TestArm64(t *testing.T) {
	t.Parallel()
	rep := vmtest.Run(t, vmtest.Config{
		Kernels: []string{"6.1"},
		Arch:    []string{"arm64"},
		Modules: []string{filepath.Join("..", "kmod")},
		Tests:   []string{filepath.Join("..", "guest", "mmapdrv")},
		W1:      true,
		OutDir:  t.TempDir(),
		CPUs:    2,
	})
	if len(rep.Kernels) != 1 {
		t.Fatalf("%d kernels ran, want arm64 6.1 alone", len(rep.Kernels))
	}
	k := rep.Kernels[0]
	if k.Arch != "arm64" {
		t.Errorf("%s ran as %q, want arm64", k.Name, k.Arch)
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
	if !guestNarrowed() && len(k.Tests) < 20 {
		t.Errorf("%s: only %d guest tests ran", k.Name, len(k.Tests))
	}
}
