package vmtest_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
)

// TestMatrix runs the bundled mmapdrv driver's suite on the default kernel
// matrix (or $KMODVM_TEST_KERNELS): every kernel must build, boot, load the
// module, pass every guest test, unload it, and log no kernel bug.
func TestMatrix(t *testing.T) {
	out := os.Getenv("KMODVM_TEST_OUT")
	if out == "" {
		out = t.TempDir()
	}
	rep := vmtest.Run(t, vmtest.Config{
		Kernels: kerneltest.Matrix(),
		Modules: []string{filepath.Join("..", "kmod")},
		Tests:   []string{filepath.Join("..", "guest", "mmapdrv")},
		W1:      true,
		OutDir:  out,
		// Two CPUs, so that the concurrency tests can catch a missing lock.
		CPUs: 2,
	})
	if len(rep.Kernels) == 0 {
		t.Fatal("no kernel ran")
	}
	for _, k := range rep.Kernels {
		if k.Build != nil && len(k.Build.Warnings) > 0 {
			t.Errorf("%s: the driver must build without warnings (W=1), got %d", k.Name, len(k.Build.Warnings))
		}
		if !guestNarrowed() && len(k.Tests) < 20 {
			t.Errorf("%s: only %d guest tests ran", k.Name, len(k.Tests))
		}
	}
}

// guestNarrowed reports whether -run selects guest tests
// (TestMatrix/<kernel>/<test>), so that fewer of them run.
func guestNarrowed() bool {
	f := flag.Lookup("test.run")
	return f != nil && strings.Count(f.Value.String(), "/") >= 2
}
