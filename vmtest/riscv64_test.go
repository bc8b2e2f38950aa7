package vmtest_test

import "testing"

// TestRiscv64 runs the bundled driver's suite on Debian's riscv64 6.12
// (trixie's 6.12.N+deb13-riscv64; Debian has no riscv64 6.1) under
// qemu-system-riscv64's virt machine through OpenSBI: the module
// cross-built by trixie's riscv64-linux-gnu-gcc-14 in its userland (W=1,
// no warnings), the agent and the tests built GOARCH=riscv64, the Image
// booted as Debian ships it, the console on ttyS0 and the other ports on
// virtio-serial over virtio-mmio. Every guest test passes, the kernel logs
// no bug, the guest's power-off (QEMU's exit) is no error, and the VM
// booted: a guest QEMU 7.2 restores does not run on (arch.Arch.NoSnapshot).
func TestRiscv64(t *testing.T) {
	t.Parallel()
	k := bundledSuiteOnSeries(t, "riscv64", "6.12", 0)
	if k.Boot == nil || k.Boot.Snapshot != "" {
		t.Errorf("%s: boot %+v: want a booted VM, no snapshot", k.Name, k.Boot)
	}
}
