package vmtest_test

import "testing"

// TestArmhf runs the bundled driver's suite on Debian's armhf 6.1
// (6.1.0-N-armmp) under qemu-system-arm's virt machine: the module
// cross-built by arm-linux-gnueabihf-gcc-12 (W=1, no warnings), the agent
// and the tests built GOARCH=arm GOARM=7, the zImage booted as it is, the
// ports beyond the PL011 on virtio-serial. Every guest test passes, the
// kernel logs no bug, and the VM used the kernel's snapshot.
func TestArmhf(t *testing.T) {
	t.Parallel()
	wantSnapshotUsed(t, bundledSuiteOn(t, "armhf", 0))
}
