// Package exit3 holds a guest test that ends its own binary with os.Exit(3)
// in the middle of the test, as code under test calling log.Fatal or
// os.Exit does.
package exit3

import (
	"os"
	"testing"
)

func skipOutsideVM(t *testing.T) {
	if os.Getenv("KMODVM_GUEST") != "1" {
		t.Skip("runs in a kmodvm VM")
	}
}

func TestAPass(t *testing.T) { skipOutsideVM(t) }

func TestExit3(t *testing.T) {
	skipOutsideVM(t)
	t.Log("about to exit with status 3")
	os.Exit(3)
}
