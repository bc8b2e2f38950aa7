package vmtest_test

import (
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// A kernel that dies before the agent reads a test's start ("=== RUN")
// costs only that test, and the binary's other tests run after a reboot:
// testdata/faultmod/unread panics the kernel in TestMain, before any test
// starts (the first test, TestAPanicsInTestMain, is blamed), then, in the
// reboot, in TestCPanicsBeforeItsStartIsRead while its "=== RUN" line is
// kept from the agent, after TestBPasses passed (it is blamed, the
// binary's next test). Each blamed test carries the panic.
func TestFaultPanicBeforeATestsStartIsReadCostsOnlyThatTest(t *testing.T) {
	t.Parallel()
	k := faultRun(t, []string{"6.1"}, "", func(c *vmtest.Config) {
		c.Tests, c.TestArgs = []string{"../testdata/faultmod/unread"}, nil
	}).Kernels[0]
	for _, c := range []struct {
		name        string
		status      report.Status
		afterReboot bool
	}{
		{"TestAPanicsInTestMain", report.Crash, false},
		{"TestBPasses", report.Pass, true},
		{"TestCPanicsBeforeItsStartIsRead", report.Crash, true},
		{"TestDPasses", report.Pass, true},
	} {
		tt := wantStatus(t, k, c.name, c.status)
		if tt.AfterReboot != c.afterReboot {
			t.Errorf("%s: after a reboot %v, want %v", c.name, tt.AfterReboot, c.afterReboot)
		}
		if c.status != report.Crash {
			continue
		}
		wantFinding(t, k, tt, "Kernel panic", "faultmod")
		if !strings.Contains(tt.Output, "had not read this test's start") {
			t.Errorf("%s's output does not say why it is blamed:\n%s", c.name, tt.Output)
		}
	}
	for _, tt := range k.Tests {
		if tt.Name == tt.Package || tt.Status == report.NotRun {
			t.Errorf("%s %s: %s\n%s", tt.Package, tt.Name, tt.Status, tt.Output)
		}
	}
	if len(k.Reboots) != 2 || k.Boot.Status != report.Crash || k.Status != report.Fail {
		t.Errorf("%d reboots, first boot %s, kernel %s (%s): want two reboots, a crash, a failure", len(k.Reboots), k.Boot.Status, k.Status, k.Error)
	}
}
