package run

import (
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/qemu"
)

// A run's timeout implies a test timeout that expires inside the VM, with
// time left for the agent's blocked-task dump; the VM itself ends early
// enough for the host's hang diagnosis.
func TestRunTimeoutImpliesATestTimeoutInsideIt(t *testing.T) {
	for _, c := range []struct {
		name        string
		left, given time.Duration
	}{
		{"60s run, 10-minute tests", 60 * time.Second, 10 * time.Minute},
		{"5-minute run, 10-minute tests", 5 * time.Minute, 10 * time.Minute},
		{"1-hour run, 10-minute tests", time.Hour, 10 * time.Minute},
		{"60s run, 5s tests", 60 * time.Second, 5 * time.Second},
		{"10s run", 10 * time.Second, 10 * time.Minute},
	} {
		t.Run(c.name, func(t *testing.T) {
			deadline := time.Now().Add(c.left)
			m := machine{testTimeout: c.given, bootTimeout: 90 * time.Second}
			b := budget{deadline: deadline}
			b.fitTests(&m)
			vm := b.vmTimeout(m, 1)
			if vm > c.left || (c.left > 2*qemu.DiagnosisTime && vm > c.left-qemu.DiagnosisTime) {
				t.Errorf("VM timeout %v leaves no time for the diagnosis before %v", vm, c.left)
			}
			if m.testTimeout > c.given {
				t.Errorf("test timeout %v, longer than the %v asked for", m.testTimeout, c.given)
			}
			if m.testTimeout >= vm || m.testTimeout <= 0 {
				t.Errorf("test timeout %v does not fit in the VM's %v", m.testTimeout, vm)
			}
			if c.left >= time.Hour && m.testTimeout != c.given {
				t.Errorf("test timeout %v, want the %v asked for: the run has time", m.testTimeout, c.given)
			}
		})
	}
	m := machine{testTimeout: time.Minute, bootTimeout: 90 * time.Second}
	budget{}.fitTests(&m)
	if m.testTimeout != time.Minute {
		t.Errorf("without a deadline the test timeout became %v", m.testTimeout)
	}
}
