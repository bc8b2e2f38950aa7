package vmtest_test

import (
	"strings"
	"testing"
	"time"

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
	// Two CPUs, so that the concurrency tests can catch a missing lock.
	bundledSuiteOn(t, "arm64", 2)
}

// On Debian's arm64 6.1 the same faults are named as on amd64 (the NULL
// dereference from arm64's "Unable to handle kernel NULL pointer
// dereference"), each in its own test, and a panic costs only its test.
func TestFaultArm64FaultsAreNamed(t *testing.T) {
	t.Parallel()
	k := faultRun(t, []string{"6.1"}, "TestAPass|TestWarnDuringPassingTest|TestOopsInChild|TestBugInChild|TestPanic|TestZZAfterCrash",
		func(c *vmtest.Config) { c.Arch = []string{"arm64"} }).Kernels[0]
	if k.Arch != "arm64" {
		t.Fatalf("%s ran as %q, want arm64", k.Name, k.Arch)
	}
	for _, c := range []struct{ test, kind, title string }{
		{"TestWarnDuringPassingTest", "WARNING", "WARNING in faultmod_ioctl"},
		{"TestOopsInChild", "Oops", "BUG: kernel NULL pointer dereference in faultmod_ioctl"},
		{"TestBugInChild", "BUG", "kernel BUG in faultmod_ioctl"},
	} {
		tt := wantStatus(t, k, c.test, report.Fail)
		wantFinding(t, k, tt, c.kind, c.title)
	}
	tt := wantStatus(t, k, "TestPanic", report.Crash)
	wantFinding(t, k, tt, "Kernel panic", "faultmod: panic requested")
	wantStatus(t, k, "TestAPass", report.Pass)
	wantStatus(t, k, "TestZZAfterCrash", report.Pass)
}

// A guest whose one CPU spins in a module past the run's timeout: on arm64
// there is no NMI to make it print a backtrace, and the hang report names
// the spinning code from QEMU's PC and the module's load address.
func TestFaultArm64StuckGuestNamesTheSpinningCode(t *testing.T) {
	t.Parallel()
	k := deadlineRun(t, []string{"6.1"}, "TestSpinPastTheRunTimeout", time.Minute, func(c *vmtest.Config) {
		c.Arch = []string{"arm64"}
	}).Kernels[0]
	wantStatus(t, k, "TestSpinPastTheRunTimeout", report.Timeout)
	if k.Boot == nil || k.Boot.Status != report.Timeout {
		t.Fatalf("boot %+v: want a timeout", k.Boot)
	}
	// The CPU is looked at several times: most looks find it in the
	// module's loop, a few in the kernel's timer interrupt.
	pcs, _, _ := strings.Cut(k.Boot.Hang, "\nRegisters:")
	for _, want := range []string{"CPU 0 PC: 0x", "[faultmod]", "faultmod_softlockup"} {
		if !strings.Contains(pcs, want) {
			t.Errorf("the hang report lacks %q:\n%s", want, k.Boot.Hang)
		}
	}
	wantLooks(t, k.Boot.Hang)
	t.Logf("the hang report's PCs:\n%s", pcs)
}

// TestArm64Pages16K runs the bundled driver's suite on Debian's arm64
// 6.12 of 16 KiB pages ("6.12-16k", 6.12.N-arm64-16k) on the CPU model
// that has the 16 KiB granule (QEMU's max): the module built with the
// kernel's own compiler (W=1, no warnings), the guest given the memory
// the kernel's profile asks of 16 KiB pages. Every guest test passes, the
// kernel logs no bug, and the VM came from a snapshot, saved or restored:
// snapshots work on it as on arm64's 4 KiB kernels.
func TestArm64Pages16K(t *testing.T) {
	t.Parallel()
	k := bundledSuiteOnSeries(t, "arm64", "6.12-16k", 0)
	if !strings.HasSuffix(k.Name, "-arm64-16k") {
		t.Errorf("6.12-16k ran %s, want a 6.12.N-arm64-16k kernel", k.Name)
	}
	if k.Boot == nil || (k.Boot.Snapshot != "saved" && k.Boot.Snapshot != "restored") {
		t.Errorf("%s: boot %+v: want a snapshot saved or restored", k.Name, k.Boot)
	}
}
