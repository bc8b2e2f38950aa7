package vmtest_test

import "testing"

// TestI386 runs the bundled driver's suite on Debian's i386 6.1
// (6.1.0-N-686-pae) under qemu-system-i386's q35: the module built by the
// host's gcc-12 with the kernel's -m32 (W=1, no warnings), the agent and
// the tests built GOARCH=386, the PVH vmlinux an ELF32; see runArchSuite.
func TestI386(t *testing.T) {
	t.Parallel()
	runArchSuite(t, "i386")
}
