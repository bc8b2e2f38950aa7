// Package steady holds guest tests whose outcome never varies: one that
// passes at once and one that sleeps, so that the host can break a run
// (interrupt it, kill its QEMU) while a VM is known to be busy.
package steady

import (
	"os"
	"testing"
	"time"
)

func skipOutsideVM(t *testing.T) {
	if os.Getenv("KMODVM_GUEST") != "1" {
		t.Skip("runs in a kmodvm VM")
	}
}

func TestAPass(t *testing.T) { skipOutsideVM(t) }

// TestSleep outlasts any host-side fault test: the host ends the VM first.
func TestSleep(t *testing.T) {
	skipOutsideVM(t)
	time.Sleep(10 * time.Minute)
}
