package vmtest_test

import "testing"

// TestPpc64el runs the bundled driver's suite on Debian's ppc64el 6.1
// (6.1.0-N-powerpc64le, 64 KiB pages) under qemu-system-ppc64's pseries
// machine: the module cross-built by powerpc64le-linux-gnu-gcc-12 (W=1,
// no warnings), the agent and the tests built GOARCH=ppc64le, the ELF
// vmlinux booted as it is, the console on hvc0 and the other ports on
// virtio-serial over PCI. Every guest test passes, the kernel logs no bug,
// and the VM booted: QEMU 7.2 cannot restore a TCG pseries guest
// (arch.Arch.NoSnapshot), so no snapshot is made or used.
func TestPpc64el(t *testing.T) {
	t.Parallel()
	k := bundledSuiteOn(t, "ppc64el", 0)
	if k.Boot == nil || k.Boot.Snapshot != "" {
		t.Errorf("%s: boot %+v: want a booted VM, no snapshot", k.Name, k.Boot)
	}
}
