package main

import (
	"strings"
	"testing"
	"time"
)

// --coverage on a stock Debian kernel (no CONFIG_GCOV_KERNEL) is a usage
// error found before anything is built or booted, and the message names
// the kernel that lacks gcov and the selector of one that has it.
func TestCLICoverageOnAStockKernelIsAUsageError(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	start := time.Now()
	r := runKmodvm(t, nil, out, append(cacheFlag(), "run", "--kernels", "6.1", "--coverage")...)
	if r.code != exitUsage {
		t.Errorf("exit %d, want %d", r.code, exitUsage)
	}
	for _, want := range []string{"CONFIG_GCOV_KERNEL", "6.1.0-", "--kernels 6.1-debug"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if r.report != nil {
		t.Errorf("a usage error left a report")
	}
	if took := time.Since(start); took > 2*time.Minute {
		t.Errorf("took %s: was something built or booted?", took.Round(time.Second))
	}
}
