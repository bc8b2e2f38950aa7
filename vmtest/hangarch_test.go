package vmtest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// A guest stuck in a module's loop on each architecture beyond amd64 and
// arm64 (their own tests): the hang report names the spinning function,
// its module and its source line from the looks at the CPU's program
// counter, read from QEMU's "info registers" under the register the
// architecture's CPU model calls it. Only i386 also has an NMI and a SysRq
// keyboard; on the others the looks are all there is. One kernel each,
// the one the suite runs on.
func TestFaultStuckGuestNamesTheSpinningCodePerArch(t *testing.T) {
	for _, c := range []struct{ arch, series, register string }{
		{"ppc64el", "6.1", "NIP"},
		{"s390x", "6.1", "PSW"},
		{"riscv64", "6.12", "pc"},
		{"armhf", "6.1", "R15"},
		{"i386", "6.1", "EIP"},
	} {
		t.Run(c.arch, func(t *testing.T) {
			k := deadlineRun(t, []string{c.series}, "TestSpinPastTheRunTimeout", time.Minute, func(cfg *vmtest.Config) {
				cfg.Arch = []string{c.arch}
			}).Kernels[0]
			wantStatus(t, k, "TestSpinPastTheRunTimeout", report.Timeout)
			if k.Boot == nil || k.Boot.Status != report.Timeout {
				t.Fatalf("boot %+v: want a timeout", k.Boot)
			}
			pcs, _, _ := strings.Cut(k.Boot.Hang, "\nRegisters:")
			for _, want := range []string{"CPU 0 " + c.register + ": 0x", "faultmod_softlockup", "[faultmod]", "faultmod.c:"} {
				if !strings.Contains(pcs, want) {
					t.Errorf("the hang report lacks %q:\n%s", want, k.Boot.Hang)
				}
			}
			wantLooks(t, k.Boot.Hang)
			t.Logf("the hang report's program counters:\n%s", pcs)
		})
	}
}
