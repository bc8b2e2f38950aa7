// Package sweepmod_test is testdata/sweepmod's suite: the module is
// loaded once the sweep of its load and unload is over.
package sweepmod_test

import (
	"os"
	"testing"

	"github.com/kmodvm/kmodvm/guest/testenv"
)

func TestLoaded(t *testing.T) {
	testenv.SkipIfNotVM(t)
	if _, err := os.Stat("/sys/module/sweepmod/initstate"); err != nil {
		t.Fatalf("sweepmod is not loaded: %v", err)
	}
}
