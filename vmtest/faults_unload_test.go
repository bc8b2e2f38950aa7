package vmtest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// An Oops in a module's exit function kills the task unloading it inside
// the kernel, so the unload never returns: the agent gives up on it once
// the fault grace has passed (not at the VM's timeout, ten minutes later),
// the unload is a failure that says why, and the Oops is named with its
// source line.
func TestFaultOopsInUnloadEndsWithinTheGracePeriod(t *testing.T) {
	t.Parallel()
	start := time.Now()
	k := faultRun(t, []string{"6.1"}, "TestAPass", func(c *vmtest.Config) {
		c.Params = []string{"faultmod.oops_in_exit=1"}
		c.FaultGrace = 10 * time.Second
	}).Kernels[0]
	took := time.Since(start)
	wantStatus(t, k, "TestAPass", report.Pass)
	var m *report.Module
	for i := range k.Modules {
		if k.Modules[i].Name == "faultmod" {
			m = &k.Modules[i]
		}
	}
	if m == nil || m.Unload != report.Fail || !strings.Contains(m.UnloadError, "no return 10s after the kernel reported") {
		t.Errorf("faultmod = %+v, want an unload that failed for the fault", m)
	}
	found := false
	for _, f := range k.Findings {
		if f.Kind == "Oops" || strings.Contains(f.Title, "NULL pointer dereference") {
			found = found || strings.Contains(f.Title, "faultmod_exit") || strings.Contains(f.Title, "faultmod_oops")
		}
	}
	if !found {
		t.Errorf("no Oops finding in faultmod's exit: %+v", k.Findings)
	}
	if k.Boot == nil || k.Boot.Status != report.Pass {
		t.Errorf("boot %+v: the VM must power off on its own", k.Boot)
	}
	// The test timeout is 10 minutes: anything near it was a blind wait.
	if took > 3*time.Minute {
		t.Errorf("the run took %s", took.Round(time.Second))
	}
}
