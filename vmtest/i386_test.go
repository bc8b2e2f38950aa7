package vmtest_test

import (
	"slices"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/report"
)

// TestI386 runs the bundled driver's suite on Debian's i386 6.1
// (6.1.0-N-686-pae) under qemu-system-i386's q35: the module built by the
// host's gcc-12 with the kernel's -m32 (W=1, no warnings), the agent and
// the tests built GOARCH=386, the PVH vmlinux an ELF32. Every guest test
// passes, the kernel logs no bug, and the VM used the kernel's snapshot.
func TestI386(t *testing.T) {
	t.Parallel()
	wantSnapshotUsed(t, bundledSuiteOn(t, "i386", 0))
}

// wantSnapshotUsed checks that k's VM was saved to or restored from the
// kernel's snapshot: a restore that fails falls back to booting, which
// names no snapshot.
func wantSnapshotUsed(t *testing.T, k *report.Kernel) {
	t.Helper()
	if k.Boot == nil || !slices.Contains([]string{"saved", "restored"}, k.Boot.Snapshot) {
		t.Errorf("%s: boot %+v: want the VM saved or restored from the kernel's snapshot", k.Name, k.Boot)
	}
}
