package vmtest_test

import "testing"

// TestS390x runs the bundled driver's suite on Debian's s390x 6.1
// (6.1.0-N-s390x, big-endian) under qemu-system-s390x's s390-ccw-virtio
// machine: the module cross-built by s390x-linux-gnu-gcc-12 (W=1, no
// warnings), the agent and the tests built GOARCH=s390x, the vmlinuz
// booted as it is, the console on the SCLP (ttysclp0) and the other ports
// on virtio-serial over CCW. Every guest test passes, the kernel logs no
// bug, and the VM booted: the snapshot's shared memory is a PCI device
// the s390 guest cannot map (arch.Arch.NoSnapshot), so no snapshot is
// made or used.
func TestS390x(t *testing.T) {
	t.Parallel()
	k := bundledSuiteOn(t, "s390x", 0)
	if k.Boot == nil || k.Boot.Snapshot != "" {
		t.Errorf("%s: boot %+v: want a booted VM, no snapshot", k.Name, k.Boot)
	}
}
